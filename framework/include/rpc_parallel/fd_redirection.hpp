// Where a daemonised worker's stdout or stderr goes once it is released.
#pragma once

#include <string>

namespace rpc_parallel {

/// Rpc_parallel's `Fd_redirection.t`. A relative path resolves after the worker's `cd`.
/// Not an aggregate on purpose: see `spawn_options`.
class fd_redirection {
 public:
  enum class mode : unsigned char { dev_null, file_append, file_truncate, to_spawner, automatic };

  fd_redirection() = default;  ///< /dev/null
  static fd_redirection dev_null() { return {}; }
  /// Lines go to the spawner's own stdout or stderr, each prefixed `[HOST PID NAME] `, for as
  /// long as the worker lives (and nothing is lost when it exits).
  static fd_redirection to_spawner() { return {mode::to_spawner, {}}; }
  /// `to_spawner` for a worker on another host, `dev_null` for a local one: the spawn default.
  static fd_redirection automatic() { return {mode::automatic, {}}; }
  static fd_redirection file_append(std::string path) {
    return {mode::file_append, std::move(path)};
  }
  static fd_redirection file_truncate(std::string path) {
    return {mode::file_truncate, std::move(path)};
  }

  mode how() const noexcept { return how_; }
  const std::string& path() const noexcept { return path_; }

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& how_& path_;
  }

 private:
  fd_redirection(mode how, std::string path) : how_(how), path_(std::move(path)) {}
  mode how_ = mode::dev_null;
  std::string path_;
};

}  // namespace rpc_parallel
