// The options every spawn takes, with their defaults in view.
#pragma once

#include "rpc_parallel/error.hpp"
#include "rpc_parallel/fd_redirection.hpp"
#include "rpc_parallel/how_to_run.hpp"

#include <sys/types.h>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rpc_parallel {

/// Rpc_parallel's `with_spawn_args` plus `umask` and the redirections. Build it inline with the
/// `with_` setters: `spawn_options().with_name("sum-1").with_connection_timeout(30s)`.
///
/// Why not an aggregate with designated initializers: g++ 12 destroys a braced aggregate
/// temporary twice when it appears in a `co_await` expression (it double-frees its strings).
/// A class with a constructor is not affected, so the options can be written inline safely.
///
/// Every options type's setters return the object by value, never `T&&`: a reference bound to
/// a chain of setters then keeps its object alive, and `o = std::move(o).with_cd(d)` assigns
/// from a new object instead of moving `o` into itself (which empties its strings and vectors).
struct spawn_options {
  spawn_options() = default;

  /// Shown in errors, in the prefix of its forwarded output and in the worker's argv (`ps`).
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
  /// How long the whole spawn may take, `init_worker_state` included; past it the spawn fails
  /// with `timed_out` and the worker is stopped. Zero (the default): no bound of its own.
  std::chrono::milliseconds spawn_timeout = std::chrono::milliseconds(0);
  /// Where a daemonised worker's stdout/stderr go once it is released (before that, its stderr
  /// goes to the spawner's, prefixed `[HOST PID NAME]`). The default forwards a remote worker's
  /// lines to the spawner and discards a local one's. Ignored in the foreground.
  fd_redirection redirect_stdout = fd_redirection::automatic();
  fd_redirection redirect_stderr = fd_redirection::automatic();
  /// Where and how the worker process starts (Rpc_parallel's `?how`).
  how_to_run how = how_to_run::local();
  /// Called on the master's executor with a background failure of the worker (a one-way
  /// function threw, after which the worker exits) and, once, with the death report of a worker
  /// that dies (not for a shutdown it was asked for). Empty: print it to stderr.
  std::function<void(const rpc_parallel::error&)> on_failure;
  /// What happens to a worker running a call it was told to stop (its caller's deadline passed
  /// or it was cancelled) that is still running it this long after: zero (the default) leaves
  /// it running; otherwise the worker is killed (a local one by SIGKILL, a remote one by
  /// closing its link to the master, which its guardian obeys however busy it is), and its
  /// death report names the call that did not stop. Applies to plain calls and reverse pipes,
  /// whose end the worker reports.
  std::chrono::milliseconds kill_unheeded_after = std::chrono::milliseconds(0);
  /// Once the worker's resident memory passes this many bytes (looked at before each call
  /// starts, which costs a few microseconds), it leaves as on SIGTERM: its clients are told, it
  /// answers the calls it has and exits, which is no death. Zero (the default): never. A pool's
  /// `recycle_above_rss` sets it.
  std::uint64_t leave_above_rss = 0;

  spawn_options with_name(std::string v) && {
    name = std::move(v);
    return std::move(*this);
  }
  spawn_options with_env(std::string key, std::string value) && {
    env.emplace_back(std::move(key), std::move(value));
    return std::move(*this);
  }
  spawn_options with_cd(std::string v) && {
    cd = std::move(v);
    return std::move(*this);
  }
  spawn_options with_umask(mode_t v) && {
    umask = v;
    return std::move(*this);
  }
  spawn_options with_connection_timeout(std::chrono::milliseconds v) && {
    connection_timeout = v;
    return std::move(*this);
  }
  spawn_options with_spawn_timeout(std::chrono::milliseconds v) && {
    spawn_timeout = v;
    return std::move(*this);
  }
  spawn_options with_redirect_stdout(fd_redirection v) && {
    redirect_stdout = std::move(v);
    return std::move(*this);
  }
  spawn_options with_redirect_stderr(fd_redirection v) && {
    redirect_stderr = std::move(v);
    return std::move(*this);
  }
  spawn_options with_how(how_to_run v) && {
    how = std::move(v);
    return std::move(*this);
  }
  spawn_options with_on_failure(std::function<void(const rpc_parallel::error&)> v) && {
    on_failure = std::move(v);
    return std::move(*this);
  }
  spawn_options with_kill_unheeded_after(std::chrono::milliseconds grace) && {
    kill_unheeded_after = grace;
    return std::move(*this);
  }
  spawn_options with_leave_above_rss(std::uint64_t bytes) && {
    leave_above_rss = bytes;
    return std::move(*this);
  }
};

}  // namespace rpc_parallel
