// Map-reduce when workers fail: killed, stopped, slowed down, killed by an item. The pool under
// a call replaces the workers it loses, and every item arrives exactly once.
#include "rpc_parallel/map_reduce.hpp"

#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <algorithm>
#include <memory>
#include <ranges>
#include <set>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace tests;

namespace {

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool each_once(const std::vector<int>& seen) {
  return std::ranges::all_of(seen, [](int n) { return n == 1; });
}

/// Slows `pid` down `factor` times until `*done`: stopped for factor - 1 ms of every factor ms.
asio::awaitable<void> duty_cycle(pid_t pid, int factor, std::shared_ptr<bool> done) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  while (!*done) {
    ::kill(pid, SIGSTOP);
    pause.expires_after(std::chrono::milliseconds(factor - 1));
    co_await pause.async_wait(asio::use_awaitable);
    ::kill(pid, SIGCONT);
    pause.expires_after(1ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(map_faults_suite)

BOOST_AUTO_TEST_CASE(a_worker_killed_halfway_has_its_items_retried_elsewhere) {
  tests::run([]() -> asio::awaitable<void> {
    std::vector<int> seen(10000, 0);
    bool killed = false;
    bool values_match = true;
    auto record = [&](std::uint64_t index, std::pair<std::int64_t, std::int64_t> value) {
      values_match = values_match && value.first == static_cast<std::int64_t>(index);
      ++seen.at(index);
      if (!killed && index >= 5000) {
        killed = true;
        ::kill(static_cast<pid_t>(value.second), SIGKILL);
      }
    };
    auto config = rp::map_config().with_local(4).with_batch_size(50);
    co_await rp::map_unordered<with_pid>(std::move(config), std::views::iota(0, 10000), rp::unit{},
                                         record);
    BOOST_TEST(killed);
    BOOST_TEST(values_match);
    BOOST_TEST(each_once(seen));
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_function_that_kills_every_worker_makes_the_pool_give_up_with_the_deaths) {
  tests::run([]() -> asio::awaitable<void> {
    auto config =
        rp::map_config()
            .with_local(2)
            .with_supervision(
                rp::pool_options().with_restart_intensity(2, 60s).with_backoff(10ms, 10ms))
            .with_worker_options(rp::spawn_options().with_on_failure([](const rp::error&) {}));
    auto result =
        co_await rp::try_map<dies>(std::move(config), std::views::iota(0, 100), rp::unit{});
    BOOST_REQUIRE(result.has_error());
    const std::string& text = result.error().message;
    BOOST_TEST(mentions(text, "the pool of dies workers gave up: 3 deaths"), text);
    BOOST_TEST(mentions(text, "3. slot "), text);
    BOOST_TEST(mentions(text, "SIGKILL"), text);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_kept_pool_replaces_a_worker_lost_between_calls) {
  tests::run([]() -> asio::awaitable<void> {
    auto pool = co_await rp::map_pool<with_pid>::start(rp::map_config().with_local(3), rp::unit{});
    BOOST_TEST(pool.size() == 3u);
    auto first = co_await rp::map<with_pid>(pool, std::views::iota(0, 3000));
    std::set<std::int64_t> pids;
    for (const auto& [x, pid] : first) pids.insert(pid);
    BOOST_TEST(first.size() == 3000u);
    // Kill one: the next call gives every result, and the pool is full again.
    auto victim = static_cast<pid_t>(*pids.begin());
    ::kill(victim, SIGKILL);
    std::vector<int> seen(3000, 0);
    auto record = [&seen](std::uint64_t index, std::pair<std::int64_t, std::int64_t>) {
      ++seen.at(index);
    };
    co_await rp::map_unordered<with_pid>(pool, std::views::iota(0, 3000), record);
    BOOST_TEST(each_once(seen));
    co_await pool.workers().wait_until_full();
    BOOST_TEST(pool.size() == 3u);
    BOOST_REQUIRE(pool.workers().deaths().size() == 1u);
    BOOST_TEST(mentions(pool.workers().deaths()[0].report, std::to_string(victim)));
    auto again = co_await rp::map<with_pid>(pool, std::views::iota(0, 3000));
    bool victim_gone = std::ranges::none_of(
        again, [victim](const auto& r) { return r.second == static_cast<std::int64_t>(victim); });
    BOOST_TEST(victim_gone);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_stopped_worker_is_worked_around_by_the_item_timeout_killed_and_replaced) {
  tests::run([]() -> asio::awaitable<void> {
    const std::int64_t items = 20000;
    std::vector<int> seen(items, 0);
    std::optional<pid_t> stopped;
    std::uint64_t timed_out = 0;
    auto count = [&seen, &stopped](std::uint64_t index, std::int64_t pid) {
      ++seen[index];
      // A quarter of the way in, one worker freezes with its batches in flight.
      if (!stopped && index >= 5000) {
        stopped = static_cast<pid_t>(pid);
        ::kill(*stopped, SIGSTOP);
      }
    };
    auto config = rp::map_config().with_local(4).with_item_timeout(200ms).with_on_progress(
        [&timed_out](const rp::map_progress& p) { timed_out = p.timed_out; });
    auto pool = co_await rp::map_pool<tests::sleepy_pid>::start(std::move(config), rp::unit{});
    auto start = std::chrono::steady_clock::now();
    co_await rp::map_unordered<tests::sleepy_pid>(pool, std::views::iota(0, items), count);
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_REQUIRE(stopped.has_value());
    // 5 s of work on 4 workers; without the timeout the call would wait for the frozen one.
    BOOST_TEST((took < 10s));
    BOOST_TEST(each_once(seen));
    BOOST_TEST(timed_out > 0u);
    // Told to stop and deaf to it (kill_unheeded_after, 1 s by default with an item timeout),
    // it is killed, and the pool replaces it.
    BOOST_TEST(tests::wait_until_exited(*stopped, 5s));
    co_await pool.workers().wait_until_full();
    BOOST_REQUIRE(!pool.workers().deaths().empty());
    const std::string& report = pool.workers().deaths().back().report;
    BOOST_TEST(mentions(report, "kill_unheeded_after"), report);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_sigterm_to_one_worker_of_four_loses_no_item_and_runs_none_twice) {
  tests::run([]() -> asio::awaitable<void> {
    const std::int64_t items = 8000;
    std::vector<int> seen(items, 0);
    std::optional<pid_t> leaving;
    auto count = [&seen, &leaving](std::uint64_t index, std::int64_t pid) {
      ++seen[index];
      if (!leaving && index >= 2000) {
        leaving = static_cast<pid_t>(pid);
        ::kill(*leaving, SIGTERM);
      }
    };
    rp::map_progress last;
    auto config = rp::map_config().with_local(4).with_batch_size(20).with_on_progress(
        [&last](const rp::map_progress& p) { last = p; });
    auto pool = co_await rp::map_pool<tests::sleepy_pid>::start(std::move(config), rp::unit{});
    co_await rp::map_unordered<tests::sleepy_pid>(pool, std::views::iota(0, items), count);
    BOOST_REQUIRE(leaving.has_value());
    BOOST_TEST(each_once(seen));
    // It finished its batches and left: nothing was run again, and it is no death.
    BOOST_TEST(last.retried == 0u);
    BOOST_TEST(pool.workers().deaths().empty());
    BOOST_TEST(tests::wait_until_exited(*leaving, 5s));
    co_await pool.workers().wait_until_full();  // replaced
    BOOST_TEST(pool.size() == 4u);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_straggler_has_its_batches_speculated_and_every_item_arrives_once) {
  tests::run([]() -> asio::awaitable<void> {
    const std::int64_t items = 4000;
    std::vector<int> seen(items, 0);
    std::optional<pid_t> slowed;
    auto done = std::make_shared<bool>(false);
    auto executor = co_await asio::this_coro::executor;
    rp::map_progress last;
    auto count = [&](std::uint64_t index, std::int64_t pid) {
      ++seen[index];
      if (!slowed && index >= 200) {  // the median is known by then
        slowed = static_cast<pid_t>(pid);
        asio::co_spawn(executor, duty_cycle(*slowed, 20, done), asio::detached);
      }
    };
    // Batches of 20 ms: slowed down, 400 ms, past 4 times the median.
    auto config = rp::map_config()
                      .with_local(4)
                      .with_batch_size(20)
                      .with_straggler_factor(4)
                      .with_on_progress([&last](const rp::map_progress& p) { last = p; });
    co_await rp::map_unordered<tests::sleepy_pid>(std::move(config), std::views::iota(0, items),
                                                  rp::unit{}, count);
    *done = true;
    if (slowed) ::kill(*slowed, SIGCONT);
    BOOST_REQUIRE(slowed.has_value());
    BOOST_TEST(each_once(seen));
    BOOST_TEST(last.speculated > 0u);
    BOOST_TEST(last.done == static_cast<std::uint64_t>(items));
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(an_item_that_kills_its_workers_is_named_with_their_death_reports) {
  tests::run([]() -> asio::awaitable<void> {
    auto config = rp::map_config().with_local(4).with_worker_options(
        rp::spawn_options().with_on_failure([](const rp::error&) {}));
    auto result = co_await rp::try_map<tests::crashes_on_537>(
        std::move(config), std::views::iota(0, 2000), rp::unit{});
    BOOST_REQUIRE(result.has_error());
    const std::string& text = result.error().message;
    // Its batch was split after each death, until it was alone: retries (2) + 1 deaths.
    BOOST_TEST(text.find("item 537 failed on 3 workers (retries: 2)") != std::string::npos, text);
    BOOST_TEST(text.find("3. ") != std::string::npos, text);
    BOOST_TEST(text.find("SIGSEGV") != std::string::npos, text);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(with_item_errors_an_item_that_kills_its_workers_carries_its_error_alone) {
  tests::run([]() -> asio::awaitable<void> {
    auto config = rp::map_config().with_local(4).with_worker_options(
        rp::spawn_options().with_on_failure([](const rp::error&) {}));
    auto outcomes = co_await rp::map_with_errors<tests::crashes_on_537>(
        std::move(config), std::views::iota(0, 10000), rp::unit{});
    BOOST_REQUIRE_EQUAL(outcomes.size(), 10000u);
    int right = 0;
    for (std::int64_t i = 0; i < 10000; ++i)
      right += i != 537 && outcomes[i].has_value() && *outcomes[i] == i;
    BOOST_TEST(right == 9999);  // the other 9,999 items arrive
    BOOST_REQUIRE(outcomes[537].has_error());
    const std::string& text = outcomes[537].error().message;
    BOOST_TEST(mentions(text, "item 537 failed on 3 workers (retries: 2)"), text);
    BOOST_TEST(mentions(text, "SIGSEGV"), text);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(with_item_errors_a_throwing_item_carries_its_error_and_the_call_goes_on) {
  tests::run([]() -> asio::awaitable<void> {
    std::vector<int> values(2000, 0);
    std::vector<std::string> errors(2000);
    auto sink = [&](std::uint64_t index, rp::or_error<std::int64_t> outcome) {
      if (outcome.has_value())
        values[index] += *outcome == static_cast<std::int64_t>(index);
      else
        errors[index] = outcome.error().message;
    };
    rp::map_progress last;
    auto config = rp::map_config().with_local(2).with_on_progress(
        [&last](const rp::map_progress& p) { last = p; });
    co_await rp::map_unordered<tests::fails_on_537>(std::move(config), std::views::iota(0, 2000),
                                                    rp::unit{}, rp::with_item_errors(sink));
    BOOST_TEST(std::count(values.begin(), values.end(), 1) == 1999);
    BOOST_TEST(mentions(errors[537], "537 is not welcome"), errors[537]);
    BOOST_TEST(std::count(errors.begin(), errors.end(), std::string()) == 1999);
    BOOST_TEST(last.failed == 1u);
    BOOST_TEST(last.done == 2000u);
  });
}

BOOST_AUTO_TEST_SUITE_END()
