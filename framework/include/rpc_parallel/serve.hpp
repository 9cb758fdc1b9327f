// Running a worker server inside the current process.
#pragma once

#include "rpc_parallel/detail/catch_error.hpp"
#include "rpc_parallel/detail/spawn.hpp"
#include "rpc_parallel/worker.hpp"

#include <boost/asio/awaitable.hpp>

namespace rpc_parallel {

/// Runs `init_worker_state(arg)` here and serves `W` on an OS-chosen port of this process until
/// `shutdown` or the end of the app. Throws `rpc_error` with init's text. Rpc_parallel's `serve`.
template <worker_type W>
boost::asio::awaitable<worker<W>> serve(spawn_arg_t<W> arg) {
  std::string bytes;
  detail::encode(arg, bytes);
  auto ref = co_await detail::serve_worker(detail::worker_type_of<W>(), std::move(bytes));
  co_return worker<W>(std::move(ref));
}

/// `serve` with a default-constructed spawn argument (for worker types that declare none).
template <worker_type W>
boost::asio::awaitable<worker<W>> serve() {
  return serve<W>(spawn_arg_t<W>{});
}

/// `serve` returning the error instead of throwing.
template <worker_type W>
boost::asio::awaitable<or_error<worker<W>>> try_serve(spawn_arg_t<W> arg) {
  return detail::catch_error(serve<W>(std::move(arg)));
}
template <worker_type W>
boost::asio::awaitable<or_error<worker<W>>> try_serve() {
  return try_serve<W>(spawn_arg_t<W>{});
}

}  // namespace rpc_parallel
