// The framework's one wait primitive: coroutines of one executor waiting for state to change.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace rpc_parallel::detail {

/// Wakes the coroutines waiting on state of one executor: `wait` returns after the next
/// `notify` (or spuriously), so waiters re-check their condition in a loop.
class wakeup {
 public:
  explicit wakeup(boost::asio::any_io_executor executor) : timer_(std::move(executor)) {}
  boost::asio::awaitable<void> wait();
  void notify() noexcept { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace rpc_parallel::detail
