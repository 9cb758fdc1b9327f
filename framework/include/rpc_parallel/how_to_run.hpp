// Where and how a spawned worker's process starts.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace rpc_parallel {

namespace detail {
class launcher;
}

/// Rpc_parallel's `How_to_run.t`: this host (`local`), another host (`remote`, with an
/// executable from `remote/`), either started through a wrapper program (`wrap`).
class how_to_run {
 public:
  /// This binary on this host, started directly: the default.
  static how_to_run local() { return how_to_run(); }

  /// On the host of `executable` (a `remote_executable` from `<rpc_parallel/remote.hpp>`), over
  /// ssh. Rpc_parallel's `How_to_run.remote`.
  template <class Executable>
  static how_to_run remote(const Executable& executable) {
    return through(executable.launcher());
  }

  /// Started by `launcher`: how the framework's own ways (ssh, Slurm steps, joins) make theirs.
  static how_to_run through(std::shared_ptr<const detail::launcher> launcher) {
    how_to_run how;
    how.launcher_ = std::move(launcher);
    return how;
  }

  /// The same, started through `wrapper`: a program (looked up on PATH) and its first
  /// arguments, which must in turn exec the path and arguments that follow them, as `nice -n
  /// 10`, `env NAME=value` or `taskset -c 1` do. Wrapping twice puts the newer wrapper outside.
  /// Rpc_parallel's `How_to_run.wrap`.
  how_to_run wrap(std::vector<std::string> wrapper) const {
    how_to_run wrapped = *this;
    wrapped.wrapper_.insert(wrapped.wrapper_.begin(), wrapper.begin(), wrapper.end());
    return wrapped;
  }

  /// The wrapper's program and arguments, outermost first; empty when started directly.
  const std::vector<std::string>& wrapper() const noexcept { return wrapper_; }
  /// The host it runs on, as error messages name it: this host's name, or the remote one.
  std::string host() const;
  /// Null for this host.
  const std::shared_ptr<const detail::launcher>& launcher() const noexcept { return launcher_; }

 private:
  how_to_run() = default;
  std::vector<std::string> wrapper_;
  std::shared_ptr<const detail::launcher> launcher_;
};

}  // namespace rpc_parallel
