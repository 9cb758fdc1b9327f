// Deadlines and cancellation reach the worker: the caller is freed at the deadline, and the
// implementation is cancelled (a coroutine at its next co_await, a plain function through
// rpc_parallel::cancelled()), down a chain of workers too.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::cancel_worker;
using tests::echo_worker;
using clock_type = std::chrono::steady_clock;

namespace {

asio::awaitable<rp::connection<cancel_worker>> spawn_cancel_worker(std::string name) {
  auto conn =
      co_await rp::spawn<cancel_worker>(rp::shutdown_on::connection_closed,
                                        rp::spawn_options().with_name(std::move(name)), rp::unit{});
  co_return conn;
}

/// Waits (up to 5 s) until `fn` on `conn` answers at least `n`; returns its last answer.
asio::awaitable<std::int64_t> wait_until_at_least(rp::connection<cancel_worker>& conn,
                                                  rp::rpc<cancel_worker, rp::unit, std::int64_t> fn,
                                                  std::int64_t n) {
  auto end = clock_type::now() + 5s;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    std::int64_t seen = co_await conn.run(fn);
    if (seen >= n || clock_type::now() > end) co_return seen;
    pause.expires_after(10ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
}

/// The error of `op`, which must fail; records how long it took.
template <class T>
asio::awaitable<rp::error> failure_of(asio::awaitable<rp::or_error<T>> op,
                                      clock_type::duration& took) {
  auto start = clock_type::now();
  rp::or_error<T> result = co_await std::move(op);
  took = clock_type::now() - start;
  BOOST_REQUIRE(!result);
  co_return result.error();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(deadline_suite)

BOOST_AUTO_TEST_CASE(a_sleeping_coroutine_is_cancelled_at_its_deadline_and_sees_it) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_cancel_worker("sleeper");
    clock_type::duration took{};
    rp::error e = co_await failure_of(
        conn.try_run(cancel_worker::sleep, 5000, rp::call_options().with_timeout(200ms)), took);
    BOOST_TEST((e.kind == rp::error_kind::timed_out));
    BOOST_TEST((took >= 200ms));
    BOOST_TEST((took < 1200ms));
    BOOST_TEST(e.message.find("cancel_worker.sleep timed out after 200 ms") != std::string::npos,
               e.message);
    BOOST_TEST(e.message.find("\"sleeper\"") != std::string::npos, e.message);
    BOOST_TEST(co_await wait_until_at_least(conn, cancel_worker::observed, 1) == 1);
  });
}

BOOST_AUTO_TEST_CASE(a_plain_function_polling_cancelled_stops_at_its_deadline) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_cancel_worker("spinner");
    clock_type::duration took{};
    rp::error e = co_await failure_of(
        conn.try_run(cancel_worker::spin, 10000, rp::call_options().with_timeout(200ms)), took);
    BOOST_TEST((e.kind == rp::error_kind::timed_out));
    BOOST_TEST((took >= 200ms));
    BOOST_TEST((took < 1200ms));
    // The worker answers at once afterwards: the spin stopped instead of running its 10 s.
    auto start = clock_type::now();
    BOOST_TEST(co_await conn.run(cancel_worker::observed) == 1);
    BOOST_TEST((clock_type::now() - start < 2s));
  });
}

BOOST_AUTO_TEST_CASE(a_stopped_worker_frees_its_caller_at_the_deadline) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_name("stopped"), "s");
    auto pid = static_cast<pid_t>(co_await conn.run(echo_worker::pid));
    BOOST_REQUIRE(::kill(pid, SIGSTOP) == 0);
    clock_type::duration took{};
    rp::error e = co_await failure_of(
        conn.try_run(echo_worker::echo, "hello", rp::call_options().with_timeout(200ms)), took);
    ::kill(pid, SIGKILL);
    BOOST_TEST((e.kind == rp::error_kind::timed_out));
    BOOST_TEST((took >= 200ms));
    BOOST_TEST((took < 1200ms));
  });
}

BOOST_AUTO_TEST_CASE(a_deadline_passes_down_a_chain_and_all_three_see_the_end) {
  tests::run([]() -> asio::awaitable<void> {
    auto b = co_await spawn_cancel_worker("chain-middle");
    co_await b.run(cancel_worker::spawn_next);
    clock_type::duration took{};
    rp::error e = co_await failure_of(
        b.try_run(cancel_worker::relay, 10000, rp::call_options().with_timeout(300ms)), took);
    BOOST_TEST((e.kind == rp::error_kind::timed_out));
    BOOST_TEST((took < 1300ms));
    auto start = clock_type::now();
    BOOST_TEST(co_await wait_until_at_least(b, cancel_worker::observed, 1) == 1);
    BOOST_TEST(co_await wait_until_at_least(b, cancel_worker::next_observed, 1) == 1);
    BOOST_TEST((clock_type::now() - start < 1s));
  });
}

BOOST_AUTO_TEST_CASE(a_call_still_queued_at_its_deadline_is_not_run) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "q");
    using namespace asio::experimental::awaitable_operators;
    // `busy` holds the worker's thread for 1 s; `count` waits behind it past its deadline.
    auto busy = conn.try_run(echo_worker::busy, 1000);
    auto late =
        conn.try_run(echo_worker::count, rp::unit{}, rp::call_options().with_timeout(100ms));
    auto [busy_result, late_result] = co_await (std::move(busy) && std::move(late));
    BOOST_TEST(busy_result.has_value());
    BOOST_REQUIRE(!late_result);
    BOOST_TEST((late_result.error().kind == rp::error_kind::timed_out));
    // Only this call counted: the timed-out one was dropped unrun.
    BOOST_TEST(co_await conn.run(echo_worker::count) == 1);
  });
}

BOOST_AUTO_TEST_CASE(call_timeout_in_the_settings_bounds_calls_without_a_deadline) {
  rp::rpc_settings settings;
  settings.call_timeout = 200ms;
  tests::run(
      []() -> asio::awaitable<void> {
        auto conn = co_await spawn_cancel_worker("defaulted");
        clock_type::duration took{};
        rp::error e = co_await failure_of(conn.try_run(cancel_worker::sleep, 5000), took);
        BOOST_TEST((e.kind == rp::error_kind::timed_out));
        BOOST_TEST((took < 1200ms));
        // An explicit deadline wins over the default.
        BOOST_TEST(co_await conn.run(cancel_worker::sleep, 400,
                                     rp::call_options().with_timeout(5s)) == 400);
      },
      std::chrono::seconds(60), settings);
}

BOOST_AUTO_TEST_CASE(a_call_that_ends_before_its_deadline_returns_its_value) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_cancel_worker("in-time");
    BOOST_TEST(co_await conn.run(cancel_worker::sleep, 20, rp::call_options().with_timeout(5s)) ==
               20);
    BOOST_TEST(co_await conn.run(cancel_worker::spin, 20, rp::call_options().with_timeout(5s)) > 0);
    BOOST_TEST(co_await conn.run(cancel_worker::observed) == 0);
  });
}

BOOST_AUTO_TEST_CASE(spawn_timeout_bounds_init_worker_state_and_leaves_no_process) {
  tests::run([]() -> asio::awaitable<void> {
    auto start = clock_type::now();
    auto spawned = co_await rp::try_spawn<tests::slow_init_worker>(
        rp::shutdown_on::connection_closed,
        rp::spawn_options().with_name("slow-init").with_spawn_timeout(500ms), std::int64_t(10000));
    auto took = clock_type::now() - start;
    BOOST_REQUIRE(!spawned);
    BOOST_TEST((spawned.error().kind == rp::error_kind::timed_out));
    BOOST_TEST(spawned.error().message.find("init_worker_state did not finish within "
                                            "spawn_timeout") != std::string::npos,
               spawned.error().message);
    BOOST_TEST((took >= 500ms));
    BOOST_TEST((took < 2s));
    BOOST_TEST(tests::wait_until_no_worker_named("slow-init", 5000ms));
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_SUITE_END()
