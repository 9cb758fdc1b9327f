// Races an operation against a timer: the house way to put a deadline on a coroutine.
#pragma once

#include "rpc_parallel/error.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <string>
#include <variant>

namespace rpc_parallel::detail {

/// Runs `op`; if `timeout` passes first, cancels it and throws `rpc_error` (timed_out) saying
/// "`what` timed out after N ms". Include only from .cpp files: it pulls in the operators.
template <class T>
boost::asio::awaitable<T> with_deadline(boost::asio::awaitable<T> op,
                                        std::chrono::milliseconds timeout, std::string what) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, timeout);
  auto result = co_await (std::move(op) || timer.async_wait(boost::asio::use_awaitable));
  if (result.index() == 1)
    throw rpc_error({error_kind::timed_out,
                     what + " timed out after " + std::to_string(timeout.count()) + " ms"});
  if constexpr (std::is_void_v<T>)
    co_return;
  else
    co_return std::move(std::get<0>(result));
}

}  // namespace rpc_parallel::detail
