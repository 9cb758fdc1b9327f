// A turn that coroutines of one executor take one at a time: an asynchronous mutex for checks
// that the first of many concurrent callers should run while the others wait for its result.
#pragma once

#include "rpc_parallel/detail/wakeup.hpp"

#include <boost/asio/this_coro.hpp>

#include <memory>
#include <utility>

namespace rpc_parallel::detail {

/// `co_await gate.take()` returns once no other coroutine holds the turn, and holds it until
/// the returned `turn` is destroyed (a failed check gives it back as its exception unwinds).
/// Callers re-check their condition after taking it: the one before may have done their work.
class one_at_a_time {
 public:
  class turn {
   public:
    explicit turn(one_at_a_time* gate) noexcept : gate_(gate) {}
    turn(turn&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    turn& operator=(turn&&) = delete;
    ~turn() {
      if (!gate_) return;
      gate_->held_ = false;
      gate_->released_->notify();
    }

   private:
    one_at_a_time* gate_;
  };

  boost::asio::awaitable<turn> take() {
    if (!released_) {
      auto executor = co_await boost::asio::this_coro::executor;  // g++ 12: not in an argument
      released_ = std::make_unique<wakeup>(executor);
    }
    while (held_) co_await released_->wait();
    held_ = true;
    co_return turn(this);
  }

 private:
  bool held_ = false;
  std::unique_ptr<wakeup> released_;  // made on the first take, with that caller's executor
};

}  // namespace rpc_parallel::detail
