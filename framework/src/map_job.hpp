// The state of one map-reduce job (map_scheduler.cpp), shared by its parts: the lanes and
// delivery there, the watchdog in map_watchdog.cpp. Private to the framework's sources.
#pragma once

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/map_scheduler.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rpc_parallel::detail::map_engine {
namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t max_batch_bytes = 1024 * 1024;
constexpr std::uint32_t max_batch_items = 1 << 16;
// An adaptive batch aims to keep its worker busy this long: long enough to hide a round trip,
// short enough to balance load and to show results early.
constexpr double target_batch_seconds = 0.002;

// A batch that failed on a worker (it died) runs again in at most this many pieces, and each
// piece that fails again is split again: an item that kills every worker it meets ends up
// alone after two deaths in a batch of up to 64 * 64 items, so the error names it.
constexpr std::uint32_t pieces_after_failure = 64;

// The median time per item is known once this many batches are done, and taken over the last
// this many.
constexpr std::size_t batches_for_median = 16;
// A straggler's deadline is never sooner than this: below it, scheduling noise alone would send
// second copies.
constexpr clock::duration straggler_floor = 50ms;
// Copies of one batch running at once: the slow one and the one sent in its place.
constexpr std::size_t copies_at_most = 2;

struct batch {
  std::uint64_t first = 0;
  std::uint32_t count = 0;
  std::string payload;
  int attempts = 0;                   ///< Workers it failed on: lost running it, or too slow.
  std::vector<std::string> failures;  ///< Why, for each.
};

// One worker running a batch.
struct copy {
  std::uint64_t id = 0;
  std::size_t slot = 0;
  clock::time_point sent;
  std::shared_ptr<asio::cancellation_signal> cancel;
  bool timed_out = false;  ///< Passed the item timeout: counted as a failure of the batch.
};

struct flight {
  batch b;
  std::vector<copy> copies;
  bool settled = false;     ///< Answered: later answers are dropped.
  bool speculated = false;  ///< A second copy was sent as the first was a straggler.
  bool wanted = false;      ///< In `spare`: waits for a lane to run another copy.

  bool runs_on(std::size_t slot) const {
    return std::ranges::any_of(copies, [slot](const copy& c) { return c.slot == slot; });
  }
};

struct job {
  job(map_hooks h, map_job_settings s, const asio::any_io_executor& executor)
      : hooks(std::move(h)),
        settings(std::move(s)),
        changed(executor),
        watch_timer(executor),
        grace_timer(executor),
        suspect(settings.slots, false),
        running_on(settings.slots),
        blamed(settings.slots),
        batch_items(settings.batch_size ? settings.batch_size : 1) {}

  map_hooks hooks;
  map_job_settings settings;
  wakeup changed;
  asio::steady_timer watch_timer;  // the watchdog's: the next deadline, or a poke
  asio::steady_timer grace_timer;  // after an interruption: the end of the drain grace

  std::deque<batch> lost;           // batches whose worker was lost, to run again first
  std::deque<std::uint64_t> spare;  // flights waiting for another copy
  std::map<std::uint64_t, flight> flights;
  std::uint64_t next_flight = 0;
  std::uint64_t next_copy = 0;
  std::size_t unsettled = 0;  // flights not answered yet
  bool input_done = false;
  std::uint64_t next_input = 0;
  std::map<std::uint64_t, std::pair<std::uint32_t, std::string>>
      held;  // ordered: waiting for earlier
  std::uint64_t next_to_deliver = 0;
  std::vector<bool> suspect;  // a batch was too slow there: no more work until it answers a probe
  // A worker runs its batches one at a time, in the order sent: when it dies, the oldest of
  // those in flight is the one it was running, and the others had not started.
  std::uint64_t next_sent = 0;
  std::vector<std::set<std::uint64_t>> running_on;   // per slot: batches in flight
  std::vector<std::optional<std::uint64_t>> blamed;  // per slot: the one its worker died running
  std::set<std::shared_ptr<asio::cancellation_signal>> calls;  // every call in flight
  std::deque<double> item_seconds;                             // per item, of the last batches done
  double median_item_seconds = 0;  // 0 until batches_for_median are done
  std::size_t lanes_running = 0;
  std::size_t copies_running = 0;
  int interrupted_by = 0;  // a master's SIGTERM or SIGINT: no new batch, finish those in flight
  bool watching = false;
  bool stopping = false;
  std::optional<rpc_parallel::error> failure;
  std::uint32_t batch_items;
  map_progress progress;
  std::uint64_t published_as = activity::of_this_process().map_started();  // for --rpc-status
  clock::time_point started = clock::now();
  clock::time_point last_report{};

  bool finished() const { return input_done && lost.empty() && unsettled == 0 && held.empty(); }
  // A reply's status byte, and with per-item errors the count of failed items.
  std::size_t header_size() const { return settings.per_item_errors ? 5 : 1; }
  void fail(rpc_parallel::error e) {
    if (!failure && !stopping) failure = std::move(e);
    stopping = true;
    changed.notify();
  }
  std::uint64_t start_flight(batch b) {
    std::uint64_t id = next_flight++;
    flights.emplace(id, flight{std::move(b), {}, false, false, false});
    ++unsettled;
    return id;
  }
  void want_copy(std::uint64_t id) {
    flight& f = flights.at(id);
    if (f.wanted) return;
    f.wanted = true;
    spare.push_back(id);
    changed.notify();
  }
};

void cancel_all(const std::vector<std::shared_ptr<asio::cancellation_signal>>& signals);
/// Batch `b` failed on more workers than `retries` allows (map_scheduler.cpp).
void give_up_on(job& j, batch b, error_kind kind);

/// Sends the second copies of late batches, and fails those past their item timeout for good.
asio::awaitable<void> watchdog(std::shared_ptr<job> shared);

}  // namespace rpc_parallel::detail::map_engine
