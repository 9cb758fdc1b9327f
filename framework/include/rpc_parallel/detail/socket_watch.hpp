// One connection as the guardian thread watches it (guardian.hpp).
#pragma once

#include <mutex>
#include <string>

namespace rpc_parallel::detail {

/// One connection as the guardian sees it: its descriptor while the connection is open, and,
/// once the guardian has declared the peer dead, why.
class socket_watch {
 public:
  explicit socket_watch(int fd) : fd_(fd) {}

  /// On the owner's thread, before the descriptor is closed: the guardian never touches it
  /// (or a reuse of its number) after this.
  void close() noexcept;
  bool is_closed() const noexcept;
  /// Empty unless the guardian declared the peer dead (and shut the socket down).
  std::string dead_reason() const;

  /// For the guardian: runs `f(fd)` under the lock unless closed; false if closed.
  template <class F>
  bool with_fd(F f) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    f(fd_);
    return true;
  }
  /// For the guardian: records `why` and shuts the socket down both ways, so that the owner's
  /// reads and writes end at once.
  void declare_dead(std::string why);

 private:
  mutable std::mutex mutex_;
  const int fd_;
  bool closed_ = false;
  std::string dead_reason_;
};

}  // namespace rpc_parallel::detail
