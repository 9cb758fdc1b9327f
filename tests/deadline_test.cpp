// Deadlines and cancellation reach the worker: the caller is freed at the deadline, and the
// implementation is cancelled (a coroutine at its next co_await, a plain function through
// rpc_parallel::cancelled()), down a chain of workers too.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/for_testing.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::cancel_worker;
using tests::echo_worker;
using tests::stream_worker;
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

/// Races `call` against a timer of `after` (`||`, which cancels the loser): 0 if the call won,
/// 1 if the timer did.
asio::awaitable<std::size_t> winner_against_timer(asio::awaitable<std::int64_t> call,
                                                  clock_type::duration after) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, after);
  auto wait = timer.async_wait(asio::use_awaitable);
  auto first = co_await (std::move(call) || std::move(wait));
  co_return first.index();
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

/// Waits (up to 5 s) until `count()` is `n`; returns its last value.
template <class Count>
asio::awaitable<std::int64_t> wait_until_equal(Count count, std::int64_t n) {
  auto end = clock_type::now() + 5s;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    std::int64_t seen = co_await count();
    if (seen == n || clock_type::now() > end) co_return seen;
    pause.expires_after(10ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
}

/// Counts a worker's open stream ends, for wait_until_equal.
struct worker_streams {
  rp::connection<stream_worker>* conn;
  asio::awaitable<std::int64_t> operator()() const {
    return conn->run(stream_worker::open_streams);
  }
};

/// 1 once the worker's events include `event`, for wait_until_equal.
struct worker_saw {
  rp::connection<stream_worker>* conn;
  std::string event;
  asio::awaitable<std::int64_t> operator()() const {
    auto events = co_await conn->run(stream_worker::events);
    co_return std::find(events.begin(), events.end(), event) != events.end() ? 1 : 0;
  }
};

/// Counts this process's open stream ends beyond `before`, for wait_until_equal.
struct own_streams {
  std::int64_t before;
  asio::awaitable<std::int64_t> operator()() const {
    co_return rp::for_testing::open_stream_ends() - before;
  }
};

asio::awaitable<rp::connection<stream_worker>> spawn_stream_worker(std::string name) {
  auto conn =
      co_await rp::spawn<stream_worker>(rp::shutdown_on::connection_closed,
                                        rp::spawn_options().with_name(std::move(name)), rp::unit{});
  co_return conn;
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

BOOST_AUTO_TEST_CASE(a_call_that_loses_a_race_with_a_timer_is_cancelled_on_the_worker) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_cancel_worker("raced");
    auto start = clock_type::now();
    BOOST_TEST(co_await winner_against_timer(conn.run(cancel_worker::sleep, 5000), 200ms) == 1u);
    BOOST_TEST((clock_type::now() - start < 1200ms));
    BOOST_TEST(co_await wait_until_at_least(conn, cancel_worker::observed, 1) == 1);
  });
}

BOOST_AUTO_TEST_CASE(a_busy_plain_function_sees_its_callers_cancellation_while_it_runs) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_cancel_worker("busy");
    BOOST_TEST(co_await winner_against_timer(conn.run(cancel_worker::spin, 10000), 200ms) == 1u);
    // The spin saw the cancellation (its cancel frame waits unread behind it) and stopped
    // instead of holding the worker for its 10 s.
    auto start = clock_type::now();
    BOOST_TEST(co_await conn.run(cancel_worker::observed) == 1);
    BOOST_TEST((clock_type::now() - start < 2s));
  });
}

BOOST_AUTO_TEST_CASE(a_cancellation_signal_cancels_the_call_and_its_caller_is_told) {
  tests::run([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    auto conn = co_await spawn_cancel_worker("signalled");
    asio::cancellation_signal signal;
    std::optional<rp::or_error<std::int64_t>> outcome;
    asio::steady_timer done(executor, asio::steady_timer::time_point::max());
    asio::co_spawn(executor, conn.try_run(cancel_worker::sleep, 5000),
                   asio::bind_cancellation_slot(
                       signal.slot(), [&outcome, &done](std::exception_ptr failure,
                                                        rp::or_error<std::int64_t> result) {
                         BOOST_TEST(!failure);
                         outcome = std::move(result);
                         done.cancel();
                       }));
    asio::steady_timer pause(executor, 100ms);
    co_await pause.async_wait(asio::use_awaitable);
    signal.emit(asio::cancellation_type::terminal);
    done.expires_after(5s);
    boost::system::error_code ec;
    co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    BOOST_REQUIRE(outcome.has_value());
    BOOST_REQUIRE(!*outcome);
    BOOST_TEST((outcome->error().kind == rp::error_kind::cancelled));
    BOOST_TEST(outcome->error().message.find("cancel_worker.sleep cancelled by its caller") !=
                   std::string::npos,
               outcome->error().message);
    BOOST_TEST(co_await wait_until_at_least(conn, cancel_worker::observed, 1) == 1);
  });
}

BOOST_AUTO_TEST_CASE(a_pipe_dropped_mid_stream_stops_its_writer_and_both_ends_are_freed) {
  tests::run([]() -> asio::awaitable<void> {
    std::int64_t before = rp::for_testing::open_stream_ends();
    auto conn = co_await spawn_stream_worker("dropped");
    {
      // Endless: one value a millisecond from a background writer; the caller stops reading.
      auto reader = co_await conn.run(stream_worker::ticks, -1);
      for (int i = 0; i < 5; ++i) BOOST_REQUIRE(co_await reader.next());
    }
    BOOST_TEST(co_await wait_until_equal(worker_streams{&conn}, 0) == 0);
    BOOST_TEST(co_await wait_until_equal(own_streams{before}, 0) == 0);
    worker_saw closed{&conn, "ticks writer closed"};  // named: g++ 12 rule (a)
    BOOST_TEST(co_await wait_until_equal(closed, 1) == 1);
  });
}

BOOST_AUTO_TEST_CASE(a_pipe_past_its_deadline_fails_its_reader_and_both_ends_are_freed) {
  tests::run([]() -> asio::awaitable<void> {
    std::int64_t before = rp::for_testing::open_stream_ends();
    auto conn = co_await spawn_stream_worker("ticking");
    auto start = clock_type::now();
    std::optional<rp::error> failure;
    std::int64_t values = 0;
    {
      // Endless: one value a millisecond from a background writer.
      auto reader =
          co_await conn.run(stream_worker::ticks, -1, rp::call_options().with_timeout(300ms));
      try {
        while (co_await reader.next()) ++values;
      } catch (const rp::rpc_error& e) {
        failure = e.get();
      }
    }
    auto took = clock_type::now() - start;
    BOOST_REQUIRE(failure.has_value());
    BOOST_TEST((failure->kind == rp::error_kind::timed_out));
    BOOST_TEST(failure->message.find("stream of stream_worker.ticks from worker \"ticking\"") !=
                   std::string::npos,
               failure->message);
    BOOST_TEST(failure->message.find("timed out after 300 ms") != std::string::npos,
               failure->message);
    BOOST_TEST(values > 0);
    BOOST_TEST((took >= 300ms));
    BOOST_TEST((took < 1300ms));
    // The worker's writer saw its stream closed, and neither end holds anything.
    BOOST_TEST(co_await wait_until_equal(worker_streams{&conn}, 0) == 0);
    BOOST_TEST(co_await wait_until_equal(own_streams{before}, 0) == 0);
    worker_saw closed{&conn, "ticks writer closed"};  // named: g++ 12 rule (a)
    BOOST_TEST(co_await wait_until_equal(closed, 1) == 1);
  });
}

BOOST_AUTO_TEST_CASE(a_reverse_pipe_cancelled_mid_stream_ends_both_sides_and_frees_them) {
  tests::run([]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    std::int64_t before = rp::for_testing::open_stream_ends();
    auto conn = co_await spawn_stream_worker("summing");
    auto produce = [](rp::stream_writer<std::int64_t> w) -> asio::awaitable<void> {
      for (std::int64_t i = 0;; ++i)
        if (!co_await w.write(i)) co_return;
    };
    std::string label = "raced";
    asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
    auto call = conn.run(stream_worker::sum, label, produce);
    auto wait = timer.async_wait(asio::use_awaitable);
    auto start = clock_type::now();
    auto first = co_await (std::move(call) || std::move(wait));
    BOOST_TEST(first.index() == 1u);
    // Loose: a producer that holds credit writes a whole window without yielding, which under
    // the sanitizers keeps the timer waiting for a second.
    BOOST_TEST((clock_type::now() - start < 3s));
    BOOST_TEST(co_await wait_until_equal(worker_streams{&conn}, 0) == 0);
    BOOST_TEST(co_await wait_until_equal(own_streams{before}, 0) == 0);
    BOOST_TEST(co_await conn.run(stream_worker::active_sums) == 0);
    // The implementation saw the end: its coroutine cancelled, or (whichever came first) its
    // reader's stream ended with the caller's reason.
    auto events = co_await conn.run(stream_worker::events);
    bool told = std::any_of(events.begin(), events.end(), [](const std::string& e) {
      return e == "raced cancelled" ||
             (e.find("raced failed") == 0 &&
              e.find("the caller gave up: stream_worker.sum cancelled by its caller") !=
                  std::string::npos);
    });
    BOOST_TEST(told);
    if (!told)
      for (const auto& e : events) BOOST_TEST_MESSAGE("worker event: " << e);
  });
}

BOOST_AUTO_TEST_CASE(a_worker_deaf_to_a_deadline_is_killed_after_kill_unheeded_after) {
  tests::run([]() -> asio::awaitable<void> {
    tests::failure_reports reports(co_await asio::this_coro::executor);
    auto on_failure = reports.handler();
    auto conn = co_await rp::spawn<cancel_worker>(
        rp::shutdown_on::connection_closed,
        rp::spawn_options().with_name("deaf").with_kill_unheeded_after(300ms).with_on_failure(
            on_failure),
        rp::unit{});
    auto pid = static_cast<pid_t>(co_await conn.run(cancel_worker::pid));
    clock_type::duration took{};
    rp::error e = co_await failure_of(
        conn.try_run(cancel_worker::spin_deaf, 30'000, rp::call_options().with_timeout(200ms)),
        took);
    BOOST_TEST((e.kind == rp::error_kind::timed_out));
    BOOST_TEST((took < 1200ms));
    co_await reports.first(5s);
    BOOST_TEST(tests::wait_until_exited(pid, 5s));  // blocks: only once the report is in
    BOOST_REQUIRE(reports.all().size() == 1u);
    BOOST_TEST(
        reports.all().front().find("killed by its spawner: cancel_worker.spin_deaf passed its "
                                   "deadline and was still running 300 ms after it was told "
                                   "to stop") != std::string::npos,
        reports.all().front());
  });
}

BOOST_AUTO_TEST_CASE(a_worker_deaf_to_a_deadline_is_left_running_by_default) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_cancel_worker("left");
    auto pid = static_cast<pid_t>(co_await conn.run(cancel_worker::pid));
    clock_type::duration took{};
    rp::error e = co_await failure_of(
        conn.try_run(cancel_worker::spin_deaf, 1500, rp::call_options().with_timeout(200ms)), took);
    BOOST_TEST((e.kind == rp::error_kind::timed_out));
    // The next call waits for the spin to end, and is answered by the same process.
    BOOST_TEST(co_await conn.run(cancel_worker::pid) == pid);
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
