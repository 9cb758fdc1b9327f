// Races an operation against a timer: the house way to put a deadline on a coroutine.
#pragma once

#include "rpc_parallel/error.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <variant>

namespace rpc_parallel::detail {

/// The outcome of an operation: its value, or the exception it threw.
template <class T>
struct outcome {
  std::exception_ptr failure;
  std::optional<T> value;
};
template <>
struct outcome<void> {
  std::exception_ptr failure;
};

/// Runs `op` and returns its exception instead of throwing it. Asio's `||` waits for the first
/// *success*, so an operation that throws inside `||` would otherwise wait for the timer.
template <class T>
boost::asio::awaitable<outcome<T>> capture(boost::asio::awaitable<T> op) {
  outcome<T> result;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(op);
    } else {
      T value = co_await std::move(op);
      result.value.emplace(std::move(value));
    }
  } catch (...) {
    result.failure = std::current_exception();
  }
  co_return result;
}

/// Runs `op`; if `timeout` passes first, cancels it and throws `rpc_error` (timed_out) saying
/// "`what` timed out after N ms". An exception from `op` propagates at once. Include only from
/// .cpp files: it pulls in the operators.
template <class T>
boost::asio::awaitable<T> with_deadline(boost::asio::awaitable<T> op,
                                        std::chrono::milliseconds timeout, std::string what) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, timeout);
  auto result = co_await (capture(std::move(op)) || timer.async_wait(boost::asio::use_awaitable));
  if (result.index() == 1)
    throw rpc_error({error_kind::timed_out,
                     what + " timed out after " + std::to_string(timeout.count()) + " ms"});
  auto& done = std::get<0>(result);
  if (done.failure) std::rethrow_exception(done.failure);
  if constexpr (std::is_void_v<T>)
    co_return;
  else
    co_return std::move(*done.value);
}

}  // namespace rpc_parallel::detail
