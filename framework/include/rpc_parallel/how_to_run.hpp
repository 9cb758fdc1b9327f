// Where and how a spawned worker's process starts.
#pragma once

#include <string>
#include <vector>

namespace rpc_parallel {

/// Rpc_parallel's `How_to_run.t`. For now every worker runs on this host (ssh hosts come with
/// `remote/`); `wrap` starts it through a wrapper program.
class how_to_run {
 public:
  /// This binary on this host, started directly: the default.
  static how_to_run local() { return how_to_run(); }

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

 private:
  how_to_run() = default;
  std::vector<std::string> wrapper_;
};

}  // namespace rpc_parallel
