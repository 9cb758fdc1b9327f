// What a process counts for the app's metrics (docs/observability.md): its calls by function and
// outcome with their latencies, bytes, and heartbeat misses. Counting is off until the app asks
// for metrics; a figure is then one relaxed atomic add. The master gathers every process's
// figures (metrics_text.hpp) and serves them in Prometheus' text format.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace boost::json {
class object;
}

namespace rpc_parallel::detail {

/// How a call ended for its caller (the reply kinds of client.hpp, in that order).
enum class call_outcome : std::uint8_t { ok, error, timed_out, cancelled, lost };
inline constexpr std::array<std::string_view, 5> call_outcome_names{"ok", "error", "timed_out",
                                                                    "cancelled", "lost"};

/// Upper bounds of the latency histogram's buckets, in seconds (+Inf follows).
inline constexpr std::array<double, 16> latency_bounds{
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3, 5e-3, 10e-3,
    25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0,    2.5,  10.0};

class metrics {
 public:
  /// One function's figures, as its callers in this process saw them.
  struct function_figures {
    std::array<std::atomic<std::uint64_t>, call_outcome_names.size()> outcomes{};
    std::array<std::atomic<std::uint64_t>, latency_bounds.size() + 1> buckets{};  // +Inf last
    std::atomic<std::uint64_t> nanoseconds{0};                                    // their sum
  };

  static metrics& of_this_process() noexcept;

  /// Whether this process counts: set by its node from the app's settings (and by the bench,
  /// which compares both ways in one process).
  static bool on() noexcept { return on_.load(std::memory_order_relaxed); }
  static void set_on(bool on) noexcept { on_.store(on, std::memory_order_relaxed); }

  /// The figures of `name` ("type.function"); the reference stays valid for the process's life.
  function_figures& function(const std::string& name);
  void call_ended(function_figures& f, call_outcome outcome, std::chrono::nanoseconds took);

  void sent(std::uint64_t bytes) noexcept { sent_.fetch_add(bytes, std::memory_order_relaxed); }
  void received(std::uint64_t bytes) noexcept {
    received_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void heartbeat_missed() noexcept { heartbeat_misses_.fetch_add(1, std::memory_order_relaxed); }

  /// This process's figures, into `out` (its report's "metrics"): under "calls" each function's
  /// outcomes, "buckets" (counts per bound, not cumulative) and "seconds"; "sent_bytes",
  /// "received_bytes", "heartbeat_misses"; and what activity counts (workers, map items).
  void snapshot_into(boost::json::object& out) const;

 private:
  static std::atomic<bool> on_;
  mutable std::mutex mutex_;  // for the map only: figures are atomics
  std::map<std::string, std::unique_ptr<function_figures>, std::less<>> functions_;
  std::atomic<std::uint64_t> sent_{0}, received_{0}, heartbeat_misses_{0};
};

}  // namespace rpc_parallel::detail
