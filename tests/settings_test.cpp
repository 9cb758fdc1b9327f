// RPC settings: defaults, field-by-field overrides, and their arrival in workers.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;

BOOST_AUTO_TEST_SUITE(settings_suite)

BOOST_AUTO_TEST_CASE(defaults_are_visible_and_sane) {
  rp::rpc_settings s;
  BOOST_TEST(s.max_message_size == 100u * 1024 * 1024);
  BOOST_TEST(s.heartbeat_timeout.count() == 5000);
  BOOST_TEST(s.heartbeat_interval.count() == 1000);
}

BOOST_AUTO_TEST_CASE(override_replaces_only_the_named_fields) {
  rp::rpc_settings base;
  base.handshake_timeout = 3s;
  auto s = rp::override_rpc_settings(base, "max_message_size=1500,heartbeat_timeout=8s");
  BOOST_TEST(s.max_message_size == 1500u);
  BOOST_TEST(s.heartbeat_timeout.count() == 8000);
  BOOST_TEST(s.handshake_timeout.count() == 3000);
  BOOST_TEST(s.heartbeat_interval.count() == 1000);
  auto ms = rp::override_rpc_settings(base, "heartbeat_interval=250ms");
  BOOST_TEST(ms.heartbeat_interval.count() == 250);
  BOOST_TEST((rp::override_rpc_settings(base, rp::to_string(s)) == s));
  BOOST_TEST(base.same_host_sockets);
  auto tcp_only = rp::override_rpc_settings(base, "same_host_sockets=false");
  BOOST_TEST(!tcp_only.same_host_sockets);
  BOOST_TEST((rp::override_rpc_settings(base, rp::to_string(tcp_only)) == tcp_only));
}

BOOST_AUTO_TEST_CASE(bad_override_names_the_field) {
  std::string unknown, bad_number;
  try {
    rp::override_rpc_settings({}, "heartbeat=3s");
  } catch (const rp::rpc_error& e) {
    unknown = e.what();
  }
  try {
    rp::override_rpc_settings({}, "max_message_size=lots");
  } catch (const rp::rpc_error& e) {
    bad_number = e.what();
  }
  BOOST_TEST(unknown.find("unknown field \"heartbeat\"") != std::string::npos);
  BOOST_TEST(bad_number.find("max_message_size needs a whole number") != std::string::npos);
  std::string bad_bool;
  try {
    rp::override_rpc_settings({}, "same_host_sockets=maybe");
  } catch (const rp::rpc_error& e) {
    bad_bool = e.what();
  }
  BOOST_TEST(bad_bool.find("same_host_sockets needs true or false, got \"maybe\"") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(environment_variable_overrides_the_app_settings) {
  ::setenv("RPC_PARALLEL_RPC_SETTINGS", "handshake_timeout=2s", 1);
  rp::rpc_settings app;
  app.handshake_timeout = 1s;
  app.max_message_size = 1500;
  auto s = rp::rpc_settings_from_environment(app);
  ::unsetenv("RPC_PARALLEL_RPC_SETTINGS");
  BOOST_TEST(s.handshake_timeout.count() == 2000);
  BOOST_TEST(s.max_message_size == 1500u);
}

BOOST_AUTO_TEST_CASE(spawned_and_served_workers_use_the_master_settings) {
  rp::rpc_settings custom;
  custom.max_message_size = 123456;
  custom.heartbeat_timeout = 7s;
  tests::run(
      [custom]() -> asio::awaitable<void> {
        auto conn = co_await rp::spawn<tests::echo_worker>(rp::shutdown_on::connection_closed,
                                                           rp::spawn_options(), "s");
        std::string spawned = co_await conn.run(tests::echo_worker::settings, tests::unit{});
        BOOST_TEST(spawned == rp::to_string(custom));
        auto served = co_await rp::serve<tests::echo_worker>("served");
        auto local = co_await rp::connect(served);
        std::string in_process = co_await local.run(tests::echo_worker::settings, tests::unit{});
        BOOST_TEST(in_process == rp::to_string(custom));
      },
      60s, custom);
}

BOOST_AUTO_TEST_SUITE_END()
