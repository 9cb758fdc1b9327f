#include "rpc_parallel/detail/restart_budget.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace rpc_parallel::detail {

std::optional<std::chrono::milliseconds> restart_budget::record_death(std::size_t slot,
                                                                      std::string report,
                                                                      clock::time_point now) {
  deaths_.push_back({slot, now, std::move(report)});
  auto recent = [&](const pool_death& d) { return now - d.when < options_.restart_window; };
  auto in_window = static_cast<std::size_t>(std::count_if(deaths_.begin(), deaths_.end(), recent));
  if (in_window > options_.max_restarts) return std::nullopt;
  auto of_slot = std::count_if(deaths_.begin(), deaths_.end(),
                               [&](const pool_death& d) { return d.slot == slot && recent(d); });
  auto backoff = options_.first_backoff;
  for (std::ptrdiff_t i = 1; i < of_slot && backoff < options_.max_backoff; ++i) backoff *= 2;
  return std::min(backoff, options_.max_backoff);
}

rpc_parallel::error restart_budget::give_up_error(std::string_view type) const {
  auto now = deaths_.empty() ? clock::now() : deaths_.back().when;
  std::string text = "the pool of " + std::string(type) +
                     " workers gave up: " + std::to_string(options_.max_restarts + 1) +
                     " deaths within " + std::to_string(options_.restart_window.count()) +
                     " ms, more than its restart intensity allows (" +
                     std::to_string(options_.max_restarts) + " restarts; " +
                     "pool_options::with_restart_intensity). The deaths:";
  int n = 0;
  for (const pool_death& d : deaths_) {
    if (now - d.when >= options_.restart_window) continue;
    text += "\n  " + std::to_string(++n) + ". slot " + std::to_string(d.slot) + ": " + d.report;
  }
  return {error_kind::failed, std::move(text)};
}

std::chrono::milliseconds recycle_lifetime(const pool_options& options) {
  if (options.recycle_after.count() <= 0) return std::chrono::milliseconds(0);
  auto jitter = options.recycle_jitter.count();
  if (jitter <= 0) return options.recycle_after;
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_int_distribution<std::int64_t> spread(-jitter, jitter);
  return std::max(std::chrono::milliseconds(1),
                  options.recycle_after + std::chrono::milliseconds(spread(random)));
}

}  // namespace rpc_parallel::detail
