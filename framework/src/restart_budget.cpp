#include "rpc_parallel/detail/restart_budget.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace rpc_parallel::detail {

restart_budget::verdict restart_budget::record_death(std::size_t slot, const std::string& host,
                                                     std::string report, clock::time_point now) {
  hosts_.insert(host);
  deaths_.push_back({slot, host, now, std::move(report)});
  if (excluded(host)) return {verdict::host_excluded};
  std::size_t in_a_row = ++failures_in_a_row_[host];
  bool last_standing = excluded_.size() + 1 >= hosts_.size();
  if (options_.exclude_host_after > 0 && in_a_row >= options_.exclude_host_after &&
      !last_standing) {
    excluded_.insert(host);
    excluded_order_.push_back(host);
    return {verdict::host_excluded};
  }
  auto counts = [&](const pool_death& d) {
    return now - d.when < options_.restart_window && !excluded(d.host);
  };
  auto in_window = static_cast<std::size_t>(std::count_if(deaths_.begin(), deaths_.end(), counts));
  if (in_window > options_.max_restarts) return {verdict::give_up};
  auto of_slot = std::count_if(deaths_.begin(), deaths_.end(),
                               [&](const pool_death& d) { return d.slot == slot && counts(d); });
  auto backoff = options_.first_backoff;
  for (std::ptrdiff_t i = 1; i < of_slot && backoff < options_.max_backoff; ++i) backoff *= 2;
  return {verdict::replace, std::min(backoff, options_.max_backoff)};
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
    if (now - d.when >= options_.restart_window || excluded(d.host)) continue;
    text += "\n  " + std::to_string(++n) + ". slot " + std::to_string(d.slot) + ": " + d.report;
  }
  if (!excluded_order_.empty()) {
    text += "\nExcluded before, as their workers kept failing:";
    for (const std::string& host : excluded_order_) text += " " + host;
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
