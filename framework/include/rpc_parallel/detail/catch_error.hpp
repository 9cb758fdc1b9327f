// The one way every `try_` twin is made from its throwing form.
#pragma once

#include "rpc_parallel/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <type_traits>
#include <utility>

namespace rpc_parallel::detail {

template <class A>
struct awaitable_value;
template <class T, class Executor>
struct awaitable_value<boost::asio::awaitable<T, Executor>> {
  using type = T;
};
/// What `co_await`ing an `A` (a `boost::asio::awaitable<T>`) yields: `T`.
template <class A>
using awaitable_value_t = typename awaitable_value<std::remove_cvref_t<A>>::type;

/// `op`'s value, or the error it threw.
template <class T>
boost::asio::awaitable<or_error<T>> catch_error(boost::asio::awaitable<T> op) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(op);
      co_return or_error<void>();
    } else {
      co_return co_await std::move(op);
    }
  } catch (...) {
    co_return current_exception_error();
  }
}

/// An operation that has already failed with `e`.
template <class T>
boost::asio::awaitable<or_error<T>> failed_with(error e) {
  co_return e;
}

/// The awaitable that `start()` returns, yielding its error instead of throwing it. An error
/// that `start` throws at once (a call refused before anything is sent: no such function, a
/// query over max_message_size) is yielded the same way. `start` runs here, before this
/// returns: it may refer to the caller's arguments.
template <class Start>
auto try_awaitable(Start&& start)
    -> boost::asio::awaitable<or_error<awaitable_value_t<std::invoke_result_t<Start>>>> {
  using value = awaitable_value_t<std::invoke_result_t<Start>>;
  try {
    return catch_error(std::forward<Start>(start)());
  } catch (...) {
    return failed_with<value>(current_exception_error());
  }
}

}  // namespace rpc_parallel::detail
