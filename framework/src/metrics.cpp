#include "rpc_parallel/detail/metrics.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/stream_channel.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace rpc_parallel::detail {
namespace json = boost::json;

std::atomic<bool> metrics::on_{false};

metrics& metrics::of_this_process() noexcept {
  static metrics* the = new metrics;  // never destroyed: a call may end during exit
  return *the;
}

metrics::function_figures& metrics::function(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = functions_[name];
  if (!slot) slot = std::make_unique<function_figures>();
  return *slot;
}

void metrics::call_ended(function_figures& f, call_outcome outcome, std::chrono::nanoseconds took) {
  f.outcomes[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  double seconds = std::chrono::duration<double>(took).count();
  auto bucket = std::lower_bound(latency_bounds.begin(), latency_bounds.end(), seconds);
  f.buckets[static_cast<std::size_t>(bucket - latency_bounds.begin())].fetch_add(
      1, std::memory_order_relaxed);
  f.nanoseconds.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, took.count())),
                          std::memory_order_relaxed);
}

void metrics::snapshot_into(json::object& out) const {
  json::object calls;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, f] : functions_) {
      json::object one;
      for (std::size_t i = 0; i < call_outcome_names.size(); ++i)
        one[call_outcome_names[i]] = f->outcomes[i].load(std::memory_order_relaxed);
      json::array buckets;
      for (const auto& b : f->buckets) buckets.emplace_back(b.load(std::memory_order_relaxed));
      one["buckets"] = std::move(buckets);
      one["seconds"] = static_cast<double>(f->nanoseconds.load(std::memory_order_relaxed)) / 1e9;
      calls[name] = std::move(one);
    }
  }
  out["calls"] = std::move(calls);
  out["sent_bytes"] = sent_.load(std::memory_order_relaxed);
  out["received_bytes"] = received_.load(std::memory_order_relaxed);
  out["heartbeat_misses"] = heartbeat_misses_.load(std::memory_order_relaxed);
  out["stream_ends_open"] = open_stream_ends();
  activity::counts seen = activity::of_this_process().totals();
  out["workers_spawned"] = seen.spawned;
  out["workers_restarted"] = seen.restarted;
  out["workers_lost"] = seen.lost;
  out["workers_running"] = seen.running;
  json::object items;
  items["done"] = seen.items.done;
  items["retried"] = seen.items.retried;
  items["timed_out"] = seen.items.timed_out;
  items["speculated"] = seen.items.speculated;
  items["failed"] = seen.items.failed;
  out["map_items"] = std::move(items);
}

}  // namespace rpc_parallel::detail
