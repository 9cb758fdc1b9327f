// The options every spawn takes, with their defaults in view.
#pragma once

#include "rpc_parallel/error.hpp"
#include "rpc_parallel/fd_redirection.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace rpc_parallel {

/// Rpc_parallel's `with_spawn_args` plus `umask` and the redirections.
struct spawn_options {
  /// Shown in errors, in the `[WORKER name STDERR]` prefix and in the worker's argv (`ps`).
  /// Empty: the worker type's name.
  std::string name;
  /// Extends the worker's environment (which otherwise is the spawner's). Values arrive exactly.
  std::vector<std::pair<std::string, std::string>> env;
  /// The worker's working directory; relative redirect paths resolve in it.
  std::string cd = "/";
  /// The worker's umask; empty keeps the spawner's.
  std::optional<mode_t> umask;
  /// How long the worker has to start and register. `init_worker_state` is not limited by it.
  std::chrono::milliseconds connection_timeout = std::chrono::seconds(10);
  /// Where a daemonised worker's stdout/stderr go once it is released (before that, its stderr
  /// is relayed to the spawner's prefixed `[WORKER name STDERR]`). Ignored in the foreground.
  fd_redirection redirect_stdout = fd_redirection::dev_null();
  fd_redirection redirect_stderr = fd_redirection::dev_null();
  /// Called with a background failure of the worker (a one-way function threw), after which the
  /// worker exits. Empty: print it to stderr.
  std::function<void(const rpc_parallel::error&)> on_failure;
};

}  // namespace rpc_parallel
