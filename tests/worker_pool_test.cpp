// A supervised pool replaces the workers that die, after a backoff, and gives up with every death
// report once they die more often than its restart intensity allows.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/worker_pool.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::cancel_worker;
using clock_type = std::chrono::steady_clock;
using pool_type = rp::worker_pool<cancel_worker>;

namespace {

/// The pid of each slot's worker.
asio::awaitable<std::vector<pid_t>> pids_of(pool_type& pool) {
  std::vector<pid_t> pids;
  for (std::size_t slot = 0; slot < pool.size(); ++slot) {
    std::int64_t pid = co_await pool.run_on(slot, cancel_worker::pid);
    pids.push_back(static_cast<pid_t>(pid));
  }
  co_return pids;
}

/// Waits (up to 10 s) until the pool has seen `n` deaths; false if it has not.
asio::awaitable<bool> wait_for_deaths(pool_type& pool, std::size_t n) {
  auto end = clock_type::now() + 10s;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  while (pool.deaths().size() < n && clock_type::now() < end) {
    pause.expires_after(10ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
  co_return pool.deaths().size() >= n;
}

/// SIGKILLs `pid` after `after`.
asio::awaitable<void> kill_after(pid_t pid, clock_type::duration after) {
  asio::steady_timer pause(co_await asio::this_coro::executor, after);
  co_await pause.async_wait(asio::use_awaitable);
  ::kill(pid, SIGKILL);
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_pool_suite)

BOOST_AUTO_TEST_CASE(a_pool_replaces_killed_workers_and_is_full_again_within_its_backoff) {
  tests::run([]() -> asio::awaitable<void> {
    auto pool = co_await pool_type::start(rp::pool_options().with_size(4).with_backoff(100ms, 1s),
                                          rp::spawn_options().with_name("refilled"));
    BOOST_TEST(pool.live() == 4u);
    std::vector<pid_t> before = co_await pids_of(pool);
    ::kill(before[1], SIGKILL);
    ::kill(before[2], SIGKILL);
    BOOST_REQUIRE(co_await wait_for_deaths(pool, 2));
    auto noticed = clock_type::now();
    co_await pool.wait_until_full();
    BOOST_TEST((clock_type::now() - noticed < 5s));
    std::vector<pid_t> after = co_await pids_of(pool);
    BOOST_TEST(after[0] == before[0]);
    BOOST_TEST(after[3] == before[3]);
    BOOST_TEST(after[1] != before[1]);
    BOOST_TEST(after[2] != before[2]);
    std::set<std::size_t> slots;
    for (const rp::pool_death& d : pool.deaths()) {
      slots.insert(d.slot);
      BOOST_TEST(mentions(d.report, "SIGKILL"), d.report);
      BOOST_TEST(mentions(d.report, "refilled-"), d.report);
    }
    BOOST_TEST((slots == std::set<std::size_t>{1, 2}));
    // Calls go on, spread over the four.
    std::int64_t ms = co_await pool.run(cancel_worker::sleep, 1);
    BOOST_TEST(ms == 1);
  });
  BOOST_TEST(tests::wait_until_no_worker_named("refilled-1", 5s));
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_pool_whose_worker_keeps_dying_gives_up_with_every_death_report) {
  tests::run([]() -> asio::awaitable<void> {
    auto pool = co_await pool_type::start(
        rp::pool_options().with_size(1).with_restart_intensity(2, 60s).with_backoff(10ms, 10ms),
        rp::spawn_options().with_name("doomed"));
    int kills = 0;
    std::optional<rp::error> failure;
    while (!failure && kills < 10) {
      auto pid = co_await pool.try_run(cancel_worker::pid);
      if (!pid) {
        failure = pid.error();
        break;
      }
      ::kill(static_cast<pid_t>(*pid), SIGKILL);
      ++kills;
      BOOST_REQUIRE(co_await wait_for_deaths(pool, static_cast<std::size_t>(kills)));
    }
    BOOST_REQUIRE(failure.has_value());
    BOOST_TEST(kills == 3);  // two restarts allowed, the third death is one too many
    BOOST_TEST(mentions(failure->message, "gave up: 3 deaths within 60000 ms"), failure->message);
    BOOST_TEST(mentions(failure->message, "with_restart_intensity"), failure->message);
    BOOST_TEST(mentions(failure->message, "3. slot 0: "), failure->message);
    BOOST_TEST(mentions(failure->message, "SIGKILL"), failure->message);
    BOOST_REQUIRE(pool.failure().has_value());
    BOOST_TEST(pool.live() == 0u);
  });
  BOOST_TEST(tests::wait_until_no_worker_named("doomed-0", 5s));
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_call_whose_worker_dies_fails_with_its_death_report_and_is_not_retried) {
  tests::run([]() -> asio::awaitable<void> {
    auto pool = co_await pool_type::start(rp::pool_options().with_size(2),
                                          rp::spawn_options().with_name("mortal"));
    using namespace asio::experimental::awaitable_operators;
    std::vector<pid_t> pids = co_await pids_of(pool);
    auto call = pool.try_run_on(0, cancel_worker::sleep, 10'000);
    auto result = co_await (std::move(call) && kill_after(pids[0], 100ms));
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST((result.error().kind == rp::error_kind::disconnected));
    BOOST_TEST(mentions(result.error().message, "SIGKILL"), result.error().message);
    co_await pool.wait_until_full();
    std::int64_t slept = co_await pool.run_on(0, cancel_worker::sleep, 1);
    BOOST_TEST(slept == 1);
  });
}

BOOST_AUTO_TEST_CASE(recycling_after_1000_calls_makes_new_generations_and_fails_no_call) {
  tests::run([]() -> asio::awaitable<void> {
    auto pool =
        co_await pool_type::start(rp::pool_options().with_size(2).with_recycling_after_calls(1000),
                                  rp::spawn_options().with_name("recycled"));
    std::map<pid_t, int> calls_by_pid;
    for (int i = 0; i < 10'000; ++i) {
      auto pid = co_await pool.try_run(cancel_worker::pid);
      BOOST_REQUIRE_MESSAGE(pid.has_value(), "call " << i << ": " << pid.error().message);
      ++calls_by_pid[static_cast<pid_t>(*pid)];
    }
    // Each generation served at most 1000 calls: at least 10 of them, and no death.
    BOOST_TEST(calls_by_pid.size() >= 10u);
    for (const auto& [pid, calls] : calls_by_pid) BOOST_TEST(calls <= 1000, pid << ": " << calls);
    BOOST_TEST(pool.deaths().empty());
    co_await pool.shut_down();  // its last replacement may be starting
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(recycling_above_an_rss_limit_replaces_a_growing_worker_and_fails_no_call) {
  tests::run([]() -> asio::awaitable<void> {
    // Each call keeps 16 MiB more; past 64 MiB a worker leaves, after answering the call.
    auto pool = co_await pool_type::start(
        rp::pool_options().with_size(1).with_recycling_above_rss(64u << 20),
        rp::spawn_options().with_name("growing"));
    std::map<pid_t, int> calls_by_pid;
    for (int i = 0; i < 24; ++i) {
      auto pid = co_await pool.try_run(cancel_worker::hold_mib, 16);
      BOOST_REQUIRE_MESSAGE(pid.has_value(), "call " << i << ": " << pid.error().message);
      ++calls_by_pid[static_cast<pid_t>(*pid)];
    }
    // The limit is looked at before each call, and the call that finds it passed is still
    // answered: a generation takes at most 5 calls. Several generations, and no death.
    BOOST_TEST(calls_by_pid.size() >= 3u);
    for (const auto& [pid, calls] : calls_by_pid) BOOST_TEST(calls <= 5, pid << ": " << calls);
    BOOST_TEST(pool.deaths().empty());
    co_await pool.shut_down();  // its last replacement may be starting
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(recycling_by_lifetime_replaces_a_worker_between_calls) {
  tests::run([]() -> asio::awaitable<void> {
    auto pool =
        co_await pool_type::start(rp::pool_options().with_size(1).with_recycling_after(200ms, 50ms),
                                  rp::spawn_options().with_name("aging"));
    std::set<pid_t> pids;
    auto end = clock_type::now() + 10s;
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (pids.size() < 3 && clock_type::now() < end) {
      auto pid = co_await pool.try_run(cancel_worker::pid);
      BOOST_REQUIRE_MESSAGE(pid.has_value(), pid.error().message);
      pids.insert(static_cast<pid_t>(*pid));
      pause.expires_after(20ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_TEST(pids.size() >= 3u);
    BOOST_TEST(pool.deaths().empty());
    co_await pool.shut_down();  // a replacement may be starting
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_SUITE_END()
