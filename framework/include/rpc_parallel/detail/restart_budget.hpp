// The bookkeeping behind a supervised pool's restarts: deaths, backoff and giving up.
#pragma once

#include "rpc_parallel/error.hpp"
#include "rpc_parallel/pool_options.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rpc_parallel::detail {

class restart_budget {
 public:
  using clock = std::chrono::steady_clock;
  explicit restart_budget(const pool_options& options) : options_(options) {}

  /// Records a death of `slot`. Returns the wait before it is replaced, or nullopt when this
  /// death exceeds the restart intensity: the pool must give up.
  std::optional<std::chrono::milliseconds> record_death(std::size_t slot, std::string report,
                                                        clock::time_point now);
  /// Why the pool gave up: the intensity it exceeded and every death within the window.
  rpc_parallel::error give_up_error(std::string_view type) const;
  /// Every death so far, oldest first.
  const std::vector<pool_death>& deaths() const noexcept { return deaths_; }

 private:
  pool_options options_;
  std::vector<pool_death> deaths_;
};

/// How long a worker of a pool recycling by lifetime lives: `recycle_after` plus or minus a
/// uniform share of `recycle_jitter`; zero when it does not recycle by lifetime.
std::chrono::milliseconds recycle_lifetime(const pool_options& options);

}  // namespace rpc_parallel::detail
