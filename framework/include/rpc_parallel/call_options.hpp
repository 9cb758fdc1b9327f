// The options of one call: its deadline.
#pragma once

#include <chrono>

namespace rpc_parallel {

/// What `run`, `try_run` and the stream calls take after the query. Build it inline:
/// `conn.run(w::fn, query, call_options().with_timeout(200ms))`. A class, not an aggregate, so
/// that it is safe as a temporary in a `co_await` expression on g++ 12.
struct call_options {
  using clock = std::chrono::steady_clock;
  call_options() = default;

  /// When the call fails with `timed_out` and the worker is told to stop (it is cancelled; see
  /// cancellation.hpp). `max()`: no deadline of its own. A call made while serving a call never
  /// outlives that call's deadline; `rpc_settings::call_timeout` applies when neither is set.
  clock::time_point deadline = clock::time_point::max();

  /// A deadline `timeout` from now.
  call_options with_timeout(clock::duration timeout) && {
    deadline = clock::now() + timeout;
    return std::move(*this);
  }
  call_options with_deadline(clock::time_point v) && {
    deadline = v;
    return std::move(*this);
  }
};

}  // namespace rpc_parallel
