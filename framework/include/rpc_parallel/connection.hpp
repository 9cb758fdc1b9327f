// A client connection to a worker server, and the typed calls made over it.
#pragma once

#include "rpc_parallel/detail/client.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/error.hpp"
#include "rpc_parallel/function.hpp"
#include "rpc_parallel/worker.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstring>
#include <memory>
#include <type_traits>

namespace rpc_parallel {

namespace detail {
/// `op`'s value, or the error it threw.
template <class T>
boost::asio::awaitable<or_error<T>> catch_error(boost::asio::awaitable<T> op) {
  try {
    co_return co_await std::move(op);
  } catch (...) {
    co_return current_exception_error();
  }
}
}  // namespace detail

/// An open connection to a worker of type `W`, with its own connection state on the worker.
/// Move-only; closes in its destructor. Rpc_parallel's `Worker.Connection.t`.
template <class W>
class connection {
 public:
  explicit connection(std::shared_ptr<detail::client> client) : client_(std::move(client)) {}
  connection(connection&&) noexcept = default;
  connection& operator=(connection&&) noexcept = default;
  ~connection() {
    if (client_) client_->close();
  }

  /// Calls `fn` and returns its response. Throws `rpc_error`: the function's exception text
  /// (kind `failed`), `disconnected`, or `failed` for a query over max_message_size.
  /// Rpc_parallel's `run_exn`.
  template <class Q, class R>
  boost::asio::awaitable<R> run(rpc<W, Q, R> fn, std::type_identity_t<Q> query) {
    auto client = client_;
    std::string response = co_await client->call(make_frame(*client, fn.name, query));
    co_return detail::decode<R>(response, "response");
  }

  /// `run` returning the error instead of throwing. Rpc_parallel's `run`.
  template <class Q, class R>
  boost::asio::awaitable<or_error<R>> try_run(rpc<W, Q, R> fn, std::type_identity_t<Q> query) {
    return detail::catch_error(run(fn, std::move(query)));
  }

  /// `run` for a function whose query is `unit`: `co_await conn.run(W::status)`.
  template <class R>
  boost::asio::awaitable<R> run(rpc<W, unit, R> fn) {
    return run(fn, unit{});
  }
  template <class R>
  boost::asio::awaitable<or_error<R>> try_run(rpc<W, unit, R> fn) {
    return try_run(fn, unit{});
  }

  /// Queues a one-way call and returns without waiting for the worker. Throws `rpc_error` at
  /// once: `unimplemented` (no such function), `failed` (query over max_message_size),
  /// `disconnected` (connection closed).
  template <class Q>
  void run(one_way<W, Q> fn, std::type_identity_t<Q> query) {
    client_->send_one_way(make_frame(*client_, fn.name, query));
  }

  /// Stops the worker from accepting new connections; this and other open ones keep working.
  boost::asio::awaitable<void> close_server() { return client_->close_server(); }

  /// Closes now; calls in flight fail with `disconnected`.
  void close() noexcept { client_->close(); }
  /// Waits until the connection is closed, by either side.
  boost::asio::awaitable<void> closed() { return client_->closed(); }
  bool is_closed() const noexcept { return client_->is_closed(); }
  /// The worker at the other end.
  worker<W> peer() const { return worker<W>(client_->peer()); }

 private:
  template <class Q>
  static std::string make_frame(detail::client& client, std::string_view name, const Q& query) {
    std::uint32_t index = client.index_of(name);
    std::string frame = detail::begin_frame();
    frame.append(reinterpret_cast<const char*>(&index), sizeof index);
    detail::encode(query, frame);
    return frame;
  }

  std::shared_ptr<detail::client> client_;
};

namespace detail {
template <worker_type W>
boost::asio::awaitable<connection<W>> connect_encoded(worker_ref w, std::string arg) {
  auto client = co_await client::open(std::move(w), &worker_type_of<W>(), std::move(arg), {});
  co_return connection<W>(std::move(client));
}

}  // namespace detail

// The entry points below are plain functions (not coroutines) with overloads instead of default
// arguments: a defaulted `{}` argument would be a braced temporary in the caller's co_await
// expression, which g++ 12 destroys twice (docs/gcc12_coroutines.md).

/// Connects to `w`, running its `init_connection_state` with `arg`. Throws `rpc_error`:
/// `disconnected` (unreachable), `unimplemented` (function tables differ, naming the function),
/// `failed` (init_connection_state threw: its text). Rpc_parallel's `Connection.client_exn`.
template <worker_type W>
boost::asio::awaitable<connection<W>> connect(const worker<W>& w, const connection_arg_t<W>& arg) {
  std::string bytes;
  detail::encode(arg, bytes);
  return detail::connect_encoded<W>(w.ref(), std::move(bytes));
}

/// `connect` with a default-constructed connection argument.
template <worker_type W>
boost::asio::awaitable<connection<W>> connect(const worker<W>& w) {
  return connect(w, connection_arg_t<W>{});
}

/// `connect` returning the error instead of throwing. Rpc_parallel's `Connection.client`.
template <worker_type W>
boost::asio::awaitable<or_error<connection<W>>> try_connect(const worker<W>& w,
                                                            const connection_arg_t<W>& arg) {
  return detail::catch_error(connect(w, arg));
}

/// `try_connect` with a default-constructed connection argument.
template <worker_type W>
boost::asio::awaitable<or_error<connection<W>>> try_connect(const worker<W>& w) {
  return try_connect(w, connection_arg_t<W>{});
}

/// Connects, awaits `f(connection&)`, and closes the connection whatever happens.
template <worker_type W, class F>
auto with_client(worker<W> w, connection_arg_t<W> arg, F f)
    -> decltype(f(std::declval<connection<W>&>())) {
  connection<W> c = co_await connect<W>(w, arg);
  co_return co_await f(c);
}

}  // namespace rpc_parallel
