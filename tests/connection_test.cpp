// Connections: per-connection state, serve, close_server, shutdown, worker handles as values.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::echo_worker;
using tests::session_worker;
using tests::unit;

namespace {

/// Claims to be echo_worker but declares a different function table, as an old binary would.
struct stale_echo_worker {
  static constexpr std::string_view name = "echo_worker";
  using spawn_arg = std::string;
  struct state {};
  static state init_worker_state(std::string) { return {}; }
  static constexpr rp::rpc<stale_echo_worker, std::int64_t, std::int64_t> echo{"echo"};
  static void implement(rp::implementations<stale_echo_worker>& impl) {
    impl.add(echo, [](state&, std::int64_t x) { return x; });
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(connection_suite)

BOOST_AUTO_TEST_CASE(each_connection_has_its_own_state_from_its_argument) {
  tests::run([]() -> asio::awaitable<void> {
    auto w = co_await rp::spawn<session_worker>(rp::shutdown_on::heartbeater_timeout,
                                                rp::spawn_options(), unit{});
    auto alice = co_await rp::connect(w, std::string("alice"));
    auto bob = co_await rp::connect(w, std::string("bob"));
    std::string a = co_await alice.run(session_worker::whoami, unit{});
    std::string b = co_await bob.run(session_worker::whoami, unit{});
    BOOST_TEST(a == "alice#1");
    BOOST_TEST(b == "bob#2");
  });
}

BOOST_AUTO_TEST_CASE(init_connection_state_exception_fails_connect_with_its_text) {
  tests::run([]() -> asio::awaitable<void> {
    auto w = co_await rp::spawn<session_worker>(rp::shutdown_on::heartbeater_timeout,
                                                rp::spawn_options(), unit{});
    auto refused = co_await rp::try_connect(w, std::string("reject me"));
    BOOST_REQUIRE(refused.has_error());
    BOOST_TEST(refused.error().message.find("text of expected failure") != std::string::npos);
    auto accepted = co_await rp::connect(w, std::string("carol"));
    std::string who = co_await accepted.run(session_worker::whoami, unit{});
    BOOST_TEST(who == "carol#1");
  });
}

BOOST_AUTO_TEST_CASE(first_connection_failure_fails_spawn_and_stops_the_worker) {
  tests::run([]() -> asio::awaitable<void> {
    auto result = co_await rp::try_spawn<session_worker>(rp::shutdown_on::connection_closed,
                                                         rp::spawn_options().with_name("picky"),
                                                         unit{}, std::string("reject me"));
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().message.find("text of expected failure") != std::string::npos);
    BOOST_TEST(result.error().message.find("\"picky\"") != std::string::npos);
  });
  // Stopped at once, not after its connection_timeout (10 s) ran out.
  BOOST_TEST(tests::wait_until_no_worker_named("picky", 3s));
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(function_exception_comes_back_to_the_caller_and_the_worker_keeps_serving) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "f");
    auto failed = co_await conn.try_run(echo_worker::fail, "text of expected failure");
    BOOST_REQUIRE(failed.has_error());
    BOOST_TEST(failed.error().message.find("text of expected failure") != std::string::npos);
    BOOST_TEST(failed.error().message.find("echo_worker.fail") != std::string::npos);
    bool threw = false;
    try {
      std::int64_t ignored = co_await conn.run(echo_worker::fail, "again");
      (void)ignored;
    } catch (const rp::rpc_error& e) {
      threw = e.kind() == rp::error_kind::failed;
    }
    BOOST_TEST(threw);
    std::string still = co_await conn.run(echo_worker::echo, "alive");
    BOOST_TEST(still == "f:alive");
  });
}

BOOST_AUTO_TEST_CASE(one_way_exception_calls_on_failure_with_the_worker_name_then_worker_exits) {
  tests::run([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer failed(executor, asio::steady_timer::time_point::max());
    std::string reported;
    auto options = rp::spawn_options()
                       .with_name("exploder")
                       .with_on_failure([&reported, &failed](const rp::error& e) {
                         reported = e.message;
                         failed.cancel();
                       });
    auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                             std::move(options), std::string("x"));
    auto conn = co_await rp::connect(w);
    std::int64_t pid = co_await conn.run(echo_worker::pid, unit{});
    conn.send(echo_worker::explode, "kaboom");
    boost::system::error_code ec;
    co_await failed.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    BOOST_TEST(reported.find("\"exploder\"") != std::string::npos);
    BOOST_TEST(reported.find("kaboom") != std::string::npos);
    BOOST_TEST(tests::wait_until_exited(static_cast<pid_t>(pid), 10s));
  });
}

BOOST_AUTO_TEST_CASE(one_way_exception_reaches_on_failure_under_connection_closed_too) {
  tests::run([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer failed(executor, asio::steady_timer::time_point::max());
    std::string reported;
    auto options = rp::spawn_options()
                       .with_name("owned-exploder")
                       .with_on_failure([&reported, &failed](const rp::error& e) {
                         reported = e.message;
                         failed.cancel();
                       });
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                std::move(options), "x");
    std::int64_t pid = co_await conn.run(echo_worker::pid);
    conn.send(echo_worker::explode, "boom in the background");
    boost::system::error_code ec;
    co_await failed.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    BOOST_TEST(reported.find("\"owned-exploder\"") != std::string::npos);
    BOOST_TEST(reported.find("boom in the background") != std::string::npos);
    BOOST_TEST(tests::wait_until_exited(static_cast<pid_t>(pid), 10s));
  });
}

BOOST_AUTO_TEST_CASE(serve_runs_a_worker_in_process_and_close_server_keeps_open_connections) {
  tests::run([]() -> asio::awaitable<void> {
    auto w = co_await rp::serve<echo_worker>("served");
    auto first = co_await rp::connect(w);
    auto second = co_await rp::connect(w);
    std::int64_t pid = co_await first.run(echo_worker::pid, unit{});
    BOOST_TEST(pid == ::getpid());
    co_await first.close_server();
    auto refused = co_await rp::try_connect(w);
    BOOST_TEST(refused.has_error());
    std::string a = co_await first.run(echo_worker::echo, "one");
    std::string b = co_await second.run(echo_worker::echo, "two");
    BOOST_TEST(a == "served:one");
    BOOST_TEST(b == "served:two");
  });
}

BOOST_AUTO_TEST_CASE(worker_handle_passed_to_another_worker_is_called_directly) {
  tests::run([]() -> asio::awaitable<void> {
    auto target = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                                  rp::spawn_options(), std::string("t"));
    auto dispatcher = co_await rp::spawn<tests::dispatcher_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options(), unit{});
    auto direct = co_await rp::connect(target);
    for (std::int64_t expected = 1; expected <= 6; expected += 2) {
      std::int64_t via = co_await dispatcher.run(tests::dispatcher_worker::count_on, target);
      std::int64_t mine = co_await direct.run(echo_worker::count, unit{});
      BOOST_TEST(via == expected);
      BOOST_TEST(mine == expected + 1);
    }
  });
}

BOOST_AUTO_TEST_CASE(shutdown_ends_a_worker_and_its_connections_see_it_close) {
  tests::run([]() -> asio::awaitable<void> {
    auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::called_shutdown_function,
                                             rp::spawn_options(), std::string("s"));
    auto conn = co_await rp::connect(w);
    std::int64_t pid = co_await conn.run(echo_worker::pid, unit{});
    co_await rp::shutdown(w);
    co_await conn.closed();
    BOOST_TEST(conn.is_closed());
    auto after = co_await conn.try_run(echo_worker::echo, "late");
    BOOST_REQUIRE(after.has_error());
    BOOST_TEST(static_cast<int>(after.error().kind) ==
               static_cast<int>(rp::error_kind::disconnected));
    BOOST_TEST(tests::wait_until_exited(static_cast<pid_t>(pid), 10s));
  });
}

BOOST_AUTO_TEST_CASE(with_client_connects_runs_and_closes) {
  tests::run([]() -> asio::awaitable<void> {
    auto w = co_await rp::serve<session_worker>(unit{});
    auto use = [](rp::connection<session_worker>& c) -> asio::awaitable<std::string> {
      std::string who = co_await c.run(session_worker::whoami, unit{});
      co_return who;
    };
    std::string first = co_await rp::with_client(w, std::string("dave"), use);
    std::string second = co_await rp::with_client(w, std::string("erin"), use);
    BOOST_TEST(first == "dave#1");
    BOOST_TEST(second == "erin#2");
  });
}

BOOST_AUTO_TEST_CASE(function_table_mismatch_is_unimplemented_naming_the_function) {
  tests::run([]() -> asio::awaitable<void> {
    auto real = co_await rp::serve<echo_worker>("real");
    rp::worker<stale_echo_worker> stale(real.ref());
    auto result = co_await rp::try_connect(stale);
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(static_cast<int>(result.error().kind) ==
               static_cast<int>(rp::error_kind::unimplemented));
    BOOST_TEST(result.error().message.find("echo(long) -> long") != std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(heartbeater_worker_exits_when_its_master_state_ends) {
  std::int64_t pid = 0;
  tests::run([&pid]() -> asio::awaitable<void> {
    auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                             rp::spawn_options(), std::string("h"));
    auto conn = co_await rp::connect(w);
    pid = co_await conn.run(echo_worker::pid, unit{});
  });
  BOOST_TEST(tests::wait_until_exited(static_cast<pid_t>(pid), 10s));
}

BOOST_AUTO_TEST_CASE(connection_closed_worker_exits_when_its_first_connection_closes) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "c");
    std::int64_t pid = co_await conn.run(echo_worker::pid, unit{});
    conn.close();
    BOOST_TEST(tests::wait_until_exited(static_cast<pid_t>(pid), 10s));
  });
}

BOOST_AUTO_TEST_CASE(coroutine_functions_let_other_calls_proceed) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "a");
    auto executor = co_await asio::this_coro::executor;
    std::int64_t slept = 0;
    asio::steady_timer done(executor, asio::steady_timer::time_point::max());
    asio::co_spawn(
        executor,
        [&conn, &slept, &done]() -> asio::awaitable<void> {
          slept = co_await conn.run(echo_worker::sleep_async, 300);
          done.cancel();
        },
        asio::detached);
    std::string quick = co_await conn.run(echo_worker::echo, "first");
    BOOST_TEST(quick == "a:first");
    BOOST_TEST(slept == 0);  // the slow call is still running on the worker
    boost::system::error_code ec;
    co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    BOOST_TEST(slept == 300);
  });
}

BOOST_AUTO_TEST_SUITE_END()
