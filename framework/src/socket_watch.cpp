#include "rpc_parallel/detail/socket_watch.hpp"

#include <sys/socket.h>

namespace rpc_parallel::detail {

void socket_watch::close() noexcept {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

bool socket_watch::is_closed() const noexcept {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::string socket_watch::dead_reason() const {
  std::lock_guard lock(mutex_);
  return dead_reason_;
}

void socket_watch::declare_dead(std::string why) {
  std::lock_guard lock(mutex_);
  if (closed_ || !dead_reason_.empty()) return;
  dead_reason_ = std::move(why);
  ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace rpc_parallel::detail
