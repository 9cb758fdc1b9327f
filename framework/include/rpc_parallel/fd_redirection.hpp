// Where a daemonised worker's stdout or stderr goes once it is released.
#pragma once

#include <string>

namespace rpc_parallel {

/// Rpc_parallel's `Fd_redirection.t`. A relative path resolves after the worker's `cd`.
struct fd_redirection {
  enum class mode : unsigned char { dev_null, file_append, file_truncate };
  mode how = mode::dev_null;
  std::string path;

  static fd_redirection dev_null() { return {}; }
  static fd_redirection file_append(std::string path) { return {mode::file_append, std::move(path)}; }
  static fd_redirection file_truncate(std::string path) {
    return {mode::file_truncate, std::move(path)};
  }

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive & how & path;
  }
};

}  // namespace rpc_parallel
