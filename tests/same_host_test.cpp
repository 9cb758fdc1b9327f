// Same-host links: processes of one host and network namespace talk over Unix-domain sockets
// (same frames, same handshake); with same_host_sockets off, and to other hosts, over TCP.
#include "support/links.hpp"
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/detail/auth.hpp>
#include <rpc_parallel/detail/node.hpp>
#include <rpc_parallel/detail/same_host.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::echo_worker;
using tests::unit;
using strings = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(same_host_suite)

BOOST_AUTO_TEST_CASE(a_local_worker_is_reached_on_its_same_host_socket) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "u");
    const rp::worker_ref& ref = conn.peer().ref();
    BOOST_TEST(rp::detail::reachable_here(ref.same_host));
    BOOST_TEST(ref.host == "127.0.0.1");  // where others, off this host's sockets, dial it
    auto pid = static_cast<pid_t>(co_await conn.run(echo_worker::pid));
    auto direct = co_await rp::connect(conn.peer());
    std::string echoed = co_await direct.run(echo_worker::echo, "x");
    BOOST_TEST(echoed == "u:x");
    // The spawn's link (this connection, under connection_closed) and the direct one.
    BOOST_TEST(tests::links_to(pid) == (strings{"unix", "unix"}), boost::test_tools::per_element());
  });
}

BOOST_AUTO_TEST_CASE(a_handle_without_the_same_host_name_reaches_the_worker_over_tcp) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "t");
    auto pid = static_cast<pid_t>(co_await conn.run(echo_worker::pid));
    rp::worker_ref from_elsewhere = conn.peer().ref();
    from_elsewhere.same_host.clear();  // as a process on another host gets it
    auto over_tcp = co_await rp::connect(rp::worker<echo_worker>(from_elsewhere));
    std::string echoed = co_await over_tcp.run(echo_worker::echo, "y");
    BOOST_TEST(echoed == "t:y");
    BOOST_TEST(tests::links_to(pid) == (strings{"tcp", "unix"}), boost::test_tools::per_element());
  });
}

BOOST_AUTO_TEST_CASE(with_same_host_sockets_off_every_link_is_tcp) {
  rp::rpc_settings tcp_only;
  tcp_only.same_host_sockets = false;
  tests::run(
      []() -> asio::awaitable<void> {
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "o");
        const rp::worker_ref& ref = conn.peer().ref();
        BOOST_TEST(ref.same_host.empty());
        auto pid = static_cast<pid_t>(co_await conn.run(echo_worker::pid));
        auto direct = co_await rp::connect(conn.peer());
        std::string echoed = co_await direct.run(echo_worker::echo, "z");
        BOOST_TEST(echoed == "o:z");
        BOOST_TEST(tests::links_to(pid) == (strings{"tcp", "tcp"}),
                   boost::test_tools::per_element());
      },
      60s, tcp_only);
}

BOOST_AUTO_TEST_CASE(a_worker_calls_another_on_its_same_host_socket) {
  tests::run([]() -> asio::awaitable<void> {
    auto target = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                                  rp::spawn_options(), std::string("t"));
    auto dispatcher = co_await rp::spawn<tests::dispatcher_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options(), unit{});
    strings kinds = co_await dispatcher.run(tests::dispatcher_worker::links_to_target, target);
    BOOST_TEST(kinds == (strings{"unix"}), boost::test_tools::per_element());
  });
}

BOOST_AUTO_TEST_CASE(the_same_host_socket_refuses_a_wrong_secret_and_goes_on_serving) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "s");
    const rp::worker_ref& ref = conn.peer().ref();
    auto socket = co_await rp::detail::connect_same_host(ref.same_host, "the worker");
    std::string message;
    try {
      co_await rp::detail::authenticate_client(socket, rp::detail::make_secret(), 5s, "the worker",
                                               {});
    } catch (const rp::rpc_error& e) {
      message = e.what();
    }
    BOOST_TEST_MESSAGE(message);
    BOOST_TEST(message.find("refused our credentials") != std::string::npos);
    auto direct = co_await rp::connect(conn.peer());
    std::string echoed = co_await direct.run(echo_worker::echo, "after");
    BOOST_TEST(echoed == "s:after");
  });
}

BOOST_AUTO_TEST_CASE(a_gone_workers_same_host_socket_says_so) {
  tests::run([]() -> asio::awaitable<void> {
    std::string message;
    try {
      auto socket = co_await rp::detail::connect_same_host(rp::detail::this_host_key() + "0.0",
                                                           "worker \"nobody\"");
    } catch (const rp::rpc_error& e) {
      message = e.what();
    }
    BOOST_TEST_MESSAGE(message);
    BOOST_TEST(message.find("cannot connect to worker \"nobody\" on its same-host socket") !=
               std::string::npos);
  });
}

BOOST_AUTO_TEST_SUITE_END()
