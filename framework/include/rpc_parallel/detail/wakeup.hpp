// The framework's one wait primitive: coroutines of one executor waiting for state to change.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace rpc_parallel::detail {

/// Wakes the coroutines waiting on state of one executor: `wait` returns after the next
/// `notify` (or spuriously), so waiters re-check their condition in a loop. It is a timer that
/// never expires, and `notify` cancels every wait pending on it. The expiry is set once, here:
/// setting it in `wait` would cancel the other waiters, which would cancel it back as they wait
/// again, and so on without end.
class wakeup {
 public:
  explicit wakeup(boost::asio::any_io_executor executor)
      : timer_(std::move(executor), boost::asio::steady_timer::time_point::max()) {}
  boost::asio::awaitable<void> wait();
  void notify() noexcept { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace rpc_parallel::detail
