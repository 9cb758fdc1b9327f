// How a supervised pool keeps its workers: how many, and how hard it tries to replace them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace rpc_parallel {

/// What `worker_pool<W>::start` takes besides the workers' spawn options. Build it inline:
/// `pool_options().with_size(4).with_restart_intensity(5, 60s)`.
struct pool_options {
  pool_options() = default;

  /// How many workers the pool keeps.
  std::size_t size = 1;
  /// Restart intensity (as an Erlang supervisor's): more than `max_restarts` deaths within
  /// `restart_window` and the pool gives up. A worker that fails to start counts as a death.
  std::size_t max_restarts = 5;
  std::chrono::milliseconds restart_window{std::chrono::seconds(60)};
  /// The wait before a replacement: `first_backoff`, doubled for each earlier death of the same
  /// slot within the window, at most `max_backoff`.
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};
  /// Recycling: a worker is retired and replaced at once (which is no death) after serving
  /// this many calls (0: never)...
  std::size_t recycle_after_calls = 0;
  /// ...or after living this long (0: forever), plus or minus up to `recycle_jitter`, so that a
  /// pool's workers do not all go at once. A retiring worker takes no new call and finishes
  /// those it has first.
  std::chrono::milliseconds recycle_after{0};
  std::chrono::milliseconds recycle_jitter{0};
  /// ...or once its resident memory passes this many bytes (0: never): the worker itself looks
  /// before each call starts (`spawn_options::leave_above_rss`), so it works on any host.
  std::uint64_t recycle_above_rss = 0;
  /// A host on which this many workers in a row died or failed to start, with no answer from
  /// one there in between, is excluded: its slots stay empty for the pool's life, and their
  /// deaths no longer count against the restart intensity (0: never). The last host standing
  /// is never excluded: the restart intensity decides when to give up on it.
  std::size_t exclude_host_after = 3;

  pool_options with_size(std::size_t n) && {
    size = n;
    return std::move(*this);
  }
  pool_options with_restart_intensity(std::size_t restarts, std::chrono::milliseconds window) && {
    max_restarts = restarts;
    restart_window = window;
    return std::move(*this);
  }
  pool_options with_backoff(std::chrono::milliseconds first, std::chrono::milliseconds most) && {
    first_backoff = first;
    max_backoff = most;
    return std::move(*this);
  }
  pool_options with_recycling_after_calls(std::size_t calls) && {
    recycle_after_calls = calls;
    return std::move(*this);
  }
  pool_options with_recycling_after(std::chrono::milliseconds lifetime,
                                    std::chrono::milliseconds jitter) && {
    recycle_after = lifetime;
    recycle_jitter = jitter;
    return std::move(*this);
  }
  pool_options with_recycling_above_rss(std::uint64_t bytes) && {
    recycle_above_rss = bytes;
    return std::move(*this);
  }
  pool_options with_host_exclusion_after(std::size_t failures_in_a_row) && {
    exclude_host_after = failures_in_a_row;
    return std::move(*this);
  }
};

/// One death in a pool: which slot, where, when, and its report (what the worker's spawn options'
/// `on_failure` received, or why its connection closed, or why it failed to start).
struct pool_death {
  std::size_t slot = 0;
  std::string host;  ///< Where it ran, as `how_to_run::host` names it.
  std::chrono::steady_clock::time_point when;
  std::string report;
};

}  // namespace rpc_parallel
