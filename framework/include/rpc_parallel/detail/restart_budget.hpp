// The bookkeeping behind a supervised pool's restarts: deaths, backoff, excluded hosts and
// giving up.
#pragma once

#include "rpc_parallel/error.hpp"
#include "rpc_parallel/pool_options.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rpc_parallel::detail {

class restart_budget {
 public:
  using clock = std::chrono::steady_clock;
  explicit restart_budget(const pool_options& options) : options_(options) {}

  /// What becomes of a slot after a death.
  struct verdict {
    enum { replace, host_excluded, give_up } what = replace;
    std::chrono::milliseconds backoff{0};  ///< The wait before `replace`.
  };

  /// Records a death (or a failed start) of `slot`'s worker on `host`. The host is excluded
  /// once `exclude_host_after` of its workers failed in a row with no answer from it in
  /// between, unless it is the last host standing; an excluded host's deaths no longer count
  /// against the restart intensity. Otherwise the death counts, and one too many gives up.
  verdict record_death(std::size_t slot, const std::string& host, std::string report,
                       clock::time_point now);
  /// A worker on `host` answered a call: its failures in a row start again from none.
  void record_answer(const std::string& host) { failures_in_a_row_.erase(host); }
  /// Makes `host` known as one the pool uses (for the last-host-standing rule).
  void add_host(const std::string& host) { hosts_.insert(host); }
  bool excluded(const std::string& host) const { return excluded_.count(host) > 0; }
  /// The excluded hosts, in the order they were excluded.
  const std::vector<std::string>& excluded_hosts() const noexcept { return excluded_order_; }

  /// Why the pool gave up: the intensity it exceeded and every death within the window.
  rpc_parallel::error give_up_error(std::string_view type) const;
  /// Every death so far, oldest first.
  const std::vector<pool_death>& deaths() const noexcept { return deaths_; }

 private:
  pool_options options_;
  std::vector<pool_death> deaths_;
  std::set<std::string> hosts_;
  std::map<std::string, std::size_t, std::less<>> failures_in_a_row_;
  std::set<std::string, std::less<>> excluded_;
  std::vector<std::string> excluded_order_;
};

/// How long a worker of a pool recycling by lifetime lives: `recycle_after` plus or minus a
/// uniform share of `recycle_jitter`; zero when it does not recycle by lifetime.
std::chrono::milliseconds recycle_lifetime(const pool_options& options);

}  // namespace rpc_parallel::detail
