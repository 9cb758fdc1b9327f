// What a worker knows about one call it serves: its deadline and whether it was cancelled, and
// the executor that carries them to the calls its implementation makes.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

namespace rpc_parallel::detail {

using clock = std::chrono::steady_clock;
inline constexpr clock::time_point no_deadline = clock::time_point::max();

/// One call being served, on the user thread. `cancelled` is atomic: the guardian sets it for a
/// busy plain implementation (busy_call.hpp).
struct call_context {
  clock::time_point deadline = no_deadline;
  std::atomic<bool> cancelled{false};
  /// A coroutine implementation's cancellation (its co_spawn is bound to this slot).
  boost::asio::cancellation_signal signal;
  /// Fires `cancel()` at the deadline, for a coroutine implementation.
  std::optional<boost::asio::steady_timer> timer;
  bool finished = false;

  /// Marks the call cancelled and, once, cancels a coroutine implementation that still runs.
  void cancel() {
    if (cancelled.exchange(true) || finished) return;
    signal.emit(boost::asio::cancellation_type::terminal);
  }
  /// The implementation has returned: nothing is cancelled from now on.
  void finish() {
    finished = true;
    if (timer) timer->cancel();
  }
};

/// Makes `context` the call that `rpc_parallel::cancelled()` answers for on this thread while a
/// plain implementation runs.
class current_call_scope {
 public:
  explicit current_call_scope(const call_context& context) noexcept;
  ~current_call_scope();
  current_call_scope(const current_call_scope&) = delete;
  current_call_scope& operator=(const current_call_scope&) = delete;

 private:
  const call_context* previous_;
};

/// The executor a coroutine implementation runs on: the user thread's, tagged with its call so
/// that a call it makes finds the deadline to inherit (`deadline_inherited_by`). Work runs
/// exactly as on the inner executor. Tasks co_spawned on it inherit the deadline too.
class call_executor {
 public:
  call_executor(boost::asio::any_io_executor inner, std::shared_ptr<call_context> context)
      : inner_(std::move(inner)), context_(std::move(context)) {}

  const std::shared_ptr<call_context>& context() const noexcept { return context_; }

  template <class F>
  void execute(F&& f) const {
    inner_.execute(std::forward<F>(f));
  }
  template <class Property>
    requires boost::asio::can_query<const boost::asio::any_io_executor&, const Property&>::value
  decltype(auto) query(const Property& p) const {
    return boost::asio::query(inner_, p);
  }
  template <class Property>
    requires boost::asio::can_require<const boost::asio::any_io_executor&, const Property&>::value
  call_executor require(const Property& p) const {
    return call_executor(boost::asio::require(inner_, p), context_);
  }
  template <class Property>
    requires boost::asio::can_prefer<const boost::asio::any_io_executor&, const Property&>::value
  call_executor prefer(const Property& p) const {
    return call_executor(boost::asio::prefer(inner_, p), context_);
  }
  friend bool operator==(const call_executor& a, const call_executor& b) noexcept {
    return a.inner_ == b.inner_ && a.context_ == b.context_;
  }
  friend bool operator!=(const call_executor& a, const call_executor& b) noexcept {
    return !(a == b);
  }

 private:
  boost::asio::any_io_executor inner_;
  std::shared_ptr<call_context> context_;
};

/// The deadline a call made on `executor` inherits: that of the call being served there, or
/// `no_deadline`.
clock::time_point deadline_inherited_by(const boost::asio::any_io_executor& executor) noexcept;

}  // namespace rpc_parallel::detail
