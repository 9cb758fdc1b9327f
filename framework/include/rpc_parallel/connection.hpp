// A client connection to a worker server, and the typed calls made over it.
#pragma once

#include "rpc_parallel/call_options.hpp"
#include "rpc_parallel/detail/catch_error.hpp"
#include "rpc_parallel/detail/client.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/error.hpp"
#include "rpc_parallel/function.hpp"
#include "rpc_parallel/log.hpp"
#include "rpc_parallel/stream.hpp"
#include "rpc_parallel/worker.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <concepts>
#include <cstring>
#include <memory>
#include <ranges>
#include <type_traits>

namespace rpc_parallel {

namespace detail {
/// Runs the caller's side of a reverse pipe: `produce(writer)` writes, and whatever it throws
/// ends the stream with that error for the worker.
template <class U, class F>
boost::asio::awaitable<void> feed_stream(std::shared_ptr<outbound_stream> out, F produce) {
  try {
    stream_writer<U> writer(writer_handle(out));
    co_await produce(std::move(writer));
  } catch (...) {
    out->close(current_exception_error());
  }
}

/// Writes `values` to the stream, waiting for the worker's window, until it ends or the worker
/// stops reading; then closes it.
template <class U, class Range>
boost::asio::awaitable<void> write_range(std::shared_ptr<outbound_stream> out, Range values) {
  stream_writer<U> writer(writer_handle(std::move(out)));
  for (auto&& value : values) {
    // Named: a temporary bound to write's reference inside the co_await would be destroyed
    // twice by g++ 12 when write throws (a value over max_message_size).
    U item(value);
    if (!co_await writer.write(item)) co_return;
  }
  writer.close();
}

/// What feeds a reverse pipe from its writing end: a range, pulled lazily...
template <class U, class Range>
struct range_feed {
  Range values;
  boost::asio::awaitable<void> operator()(std::shared_ptr<outbound_stream> out) {
    return write_range<U>(std::move(out), std::move(values));
  }
};
/// ...or the caller's producer function.
template <class U, class F>
struct producer_feed {
  F produce;
  boost::asio::awaitable<void> operator()(std::shared_ptr<outbound_stream> out) {
    return feed_stream<U>(std::move(out), std::move(produce));
  }
};

/// Sends a reverse pipe's call (its deadline the earliest of `deadline` and an inherited one),
/// then waits for the feed and the reply together; the reply's error wins. Neither cancels the
/// other: a feed that fails (a value over max_message_size) leaves the call to end by the
/// worker's reply, and a failed reply leaves the feed to see its stream end (the worker closes
/// it, the call's deadline or cancellation does, or the connection's loss does).
template <class R, class Feed>
boost::asio::awaitable<R> reverse_call(std::shared_ptr<client> c, call_frame frame,
                                       clock::time_point deadline, Feed feed) {
  using namespace boost::asio::experimental::awaitable_operators;
  auto executor = co_await boost::asio::this_coro::executor;  // named: g++ 12
  deadline = std::min(deadline, deadline_inherited_by(executor));
  // No structured binding in a coroutine (docs/gcc12_coroutines.md, rule d).
  auto started = c->start_streaming_to(std::move(frame), deadline);
  auto producer = feed(std::move(started.second));
  auto reply = c->reply_of(started.first);
  auto both = co_await (capture(std::move(producer)) && capture(std::move(reply)));
  auto& [produced, replied] = both;
  if (replied.failure) std::rethrow_exception(replied.failure);
  if (produced.failure) std::rethrow_exception(produced.failure);
  co_return decode_owned<R>(std::move(*replied.value), "response");
}

/// Sends a call and decodes its response.
template <class R>
boost::asio::awaitable<R> call_decoded(std::shared_ptr<client> c, call_frame frame,
                                       clock::time_point deadline) {
  std::string response = co_await c->call(std::move(frame), deadline);
  co_return decode_owned<R>(std::move(response), "response");
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
  /// (kind `failed`), `disconnected`, `failed` for a query over max_message_size, `timed_out`
  /// at the deadline of `options` (or the one inherited, or `rpc_settings::call_timeout`), and
  /// `cancelled` when the awaiting coroutine is cancelled; in the last two the worker's
  /// implementation is cancelled too. The query is encoded in this call, before anything is
  /// awaited: `query` need not outlive it, and one too large is refused before it is copied
  /// whole. Rpc_parallel's `run_exn`.
  template <class Q, class R>
  boost::asio::awaitable<R> run(rpc<W, Q, R> fn, const std::type_identity_t<Q>& query,
                                call_options options) {
    return detail::call_decoded<R>(client_, make_frame(*client_, fn.name, query), options.deadline);
  }
  template <class Q, class R>
  boost::asio::awaitable<R> run(rpc<W, Q, R> fn, const std::type_identity_t<Q>& query) {
    return run(fn, query, call_options());
  }

  /// `run` returning the error instead of throwing. Rpc_parallel's `run`.
  template <class Q, class R>
  boost::asio::awaitable<or_error<R>> try_run(rpc<W, Q, R> fn, const std::type_identity_t<Q>& query,
                                              call_options options) {
    return detail::try_awaitable([&] { return run(fn, query, options); });
  }
  template <class Q, class R>
  boost::asio::awaitable<or_error<R>> try_run(rpc<W, Q, R> fn,
                                              const std::type_identity_t<Q>& query) {
    return try_run(fn, query, call_options());
  }

  /// `run` for a function whose query is `unit`: `co_await conn.run(W::status)`.
  template <class R>
  boost::asio::awaitable<R> run(rpc<W, unit, R> fn, call_options options = call_options()) {
    return run(fn, unit{}, options);
  }
  template <class R>
  boost::asio::awaitable<or_error<R>> try_run(rpc<W, unit, R> fn,
                                              call_options options = call_options()) {
    return try_run(fn, unit{}, options);
  }

  /// Any stream call below (pipe, direct pipe, state, reverse pipe), returning the error
  /// instead of throwing; errors after the call has succeeded still come from its reader.
  template <class F, class... Args>
    requires(!detail::is_rpc_v<F>)
  auto try_run(F fn, Args&&... args) {
    return detail::try_awaitable([&] { return run(fn, std::forward<Args>(args)...); });
  }

  /// Queues a one-way call and returns without waiting for the worker: there is nothing to
  /// await. Throws `rpc_error` at once: `unimplemented` (no such function), `failed` (query
  /// over max_message_size), `disconnected` (connection closed).
  template <class Q>
  void send(one_way<W, Q> fn, const std::type_identity_t<Q>& query) {
    client_->send_one_way(make_frame(*client_, fn.name, query));
  }
  /// `send` returning the error instead of throwing.
  template <class Q>
  [[nodiscard]] or_error<void> try_send(one_way<W, Q> fn, const std::type_identity_t<Q>& query) {
    try {
      send(fn, query);
      return {};
    } catch (...) {
      return current_exception_error();
    }
  }
  /// A one-way call is sent, not run: `conn.send(W::fn, query)`.
  template <class Q, class... Rest>
  void run(one_way<W, Q>, Rest&&...) {
    static_assert(sizeof(Q) == 0,
                  "a one-way function is not awaited: call conn.send(W::fn, query) instead");
  }

  /// Calls a pipe (or direct pipe) function and returns the reader of its stream. Throws
  /// `rpc_error` as `run` does when the call fails; errors after that come from the reader. A
  /// deadline in `options` (or an inherited one) bounds the whole stream: past it the reader
  /// fails with `timed_out` and the worker's writer sees its stream closed.
  template <class Q, class T>
  boost::asio::awaitable<stream_reader<T>> run(pipe_rpc<W, Q, T> fn,
                                               const std::type_identity_t<Q>& query,
                                               call_options options) {
    return open_stream<T>(make_frame(*client_, fn.name, query), options.deadline);
  }
  template <class Q, class T>
  boost::asio::awaitable<stream_reader<T>> run(pipe_rpc<W, Q, T> fn,
                                               const std::type_identity_t<Q>& query) {
    return run(fn, query, call_options());
  }
  template <class Q, class T>
  boost::asio::awaitable<stream_reader<T>> run(direct_pipe_rpc<W, Q, T> fn,
                                               const std::type_identity_t<Q>& query,
                                               call_options options) {
    return open_stream<T>(make_frame(*client_, fn.name, query), options.deadline);
  }
  template <class Q, class T>
  boost::asio::awaitable<stream_reader<T>> run(direct_pipe_rpc<W, Q, T> fn,
                                               const std::type_identity_t<Q>& query) {
    return run(fn, query, call_options());
  }

  /// Calls a state function: its state now, and the reader of its updates (bounded by a
  /// deadline as a pipe is).
  template <class Q, class S, class U>
  boost::asio::awaitable<state_stream<S, U>> run(state_rpc<W, Q, S, U> fn,
                                                 const std::type_identity_t<Q>& query,
                                                 call_options options) {
    return open_state<S, U>(make_frame(*client_, fn.name, query), options.deadline);
  }
  template <class Q, class S, class U>
  boost::asio::awaitable<state_stream<S, U>> run(state_rpc<W, Q, S, U> fn,
                                                 const std::type_identity_t<Q>& query) {
    return run(fn, query, call_options());
  }

  /// The stream kinds for a query of `unit`: `co_await conn.run(W::updates)`.
  template <class T>
  boost::asio::awaitable<stream_reader<T>> run(pipe_rpc<W, unit, T> fn,
                                               call_options options = call_options()) {
    return run(fn, unit{}, options);
  }
  template <class T>
  boost::asio::awaitable<stream_reader<T>> run(direct_pipe_rpc<W, unit, T> fn,
                                               call_options options = call_options()) {
    return run(fn, unit{}, options);
  }
  template <class S, class U>
  boost::asio::awaitable<state_stream<S, U>> run(state_rpc<W, unit, S, U> fn,
                                                 call_options options = call_options()) {
    return run(fn, unit{}, options);
  }

  /// Calls a reverse pipe, streaming `values` (any input range of values convertible to `U`,
  /// pulled lazily as the worker's window allows) and returns the response. If the worker
  /// returns before reading everything, the rest is not sent. At the deadline of `options` (or
  /// an inherited one), or when the awaiting coroutine is cancelled, the call fails with
  /// `timed_out` or `cancelled`, the worker's reader sees its stream end with that error and
  /// the worker's implementation is cancelled. Rpc_parallel's reverse pipe.
  template <class Q, class U, class R, std::ranges::input_range Range>
    requires std::convertible_to<std::ranges::range_reference_t<Range>, U>
  boost::asio::awaitable<R> run(reverse_pipe_rpc<W, Q, U, R> fn,
                                const std::type_identity_t<Q>& query, Range values,
                                call_options options) {
    return detail::reverse_call<R>(client_, make_frame(*client_, fn.name, query), options.deadline,
                                   detail::range_feed<U, Range>{std::move(values)});
  }
  template <class Q, class U, class R, std::ranges::input_range Range>
    requires std::convertible_to<std::ranges::range_reference_t<Range>, U>
  boost::asio::awaitable<R> run(reverse_pipe_rpc<W, Q, U, R> fn,
                                const std::type_identity_t<Q>& query, Range values) {
    return run(fn, query, std::move(values), call_options());
  }

  /// Calls a reverse pipe whose values `produce(stream_writer<U>)` writes (returning an
  /// awaitable); it should close the writer when done. Whatever it throws reaches the worker's
  /// reader as the stream's error. Returns once both the producer and the call are done; a
  /// deadline or cancellation ends both as for a range. Rpc_parallel's reverse direct pipe.
  /// Keep `produce` in a variable, not a temporary lambda in the co_await expression
  /// (docs/gcc12_coroutines.md).
  template <class Q, class U, class R, class F>
    requires std::invocable<F&, stream_writer<U>>
  boost::asio::awaitable<R> run(reverse_pipe_rpc<W, Q, U, R> fn,
                                const std::type_identity_t<Q>& query, F produce,
                                call_options options) {
    return detail::reverse_call<R>(client_, make_frame(*client_, fn.name, query), options.deadline,
                                   detail::producer_feed<U, F>{std::move(produce)});
  }
  template <class Q, class U, class R, class F>
    requires std::invocable<F&, stream_writer<U>>
  boost::asio::awaitable<R> run(reverse_pipe_rpc<W, Q, U, R> fn,
                                const std::type_identity_t<Q>& query, F produce) {
    return run(fn, query, std::move(produce), call_options());
  }

  /// Asks the worker to stop writing stream `id`; values already sent still arrive, then the
  /// reader sees it closed by the remote side. Rpc_parallel's `Connection.abort`.
  void abort(stream_id id) { client_->abort(id.value); }

  /// Subscribes to the worker's log (`write_log`): every message written from now on, after
  /// those kept from its initialisation. Closing the reader ends this subscription only.
  /// Rpc_parallel's built-in `async_log`.
  boost::asio::awaitable<stream_reader<log_message>> subscribe_log() {
    return open_stream<log_message>({detail::log_function_index, detail::begin_frame()},
                                    detail::no_deadline);
  }

  /// Stops the worker from accepting new connections; this and other open ones keep working.
  boost::asio::awaitable<void> close_server() { return client_->close_server(); }

  /// Closes now; calls in flight fail with `disconnected`.
  void close() noexcept { client_->close(); }
  /// Waits until the connection is closed, by either side.
  boost::asio::awaitable<void> closed() { return client_->closed(); }
  bool is_closed() const noexcept { return client_->is_closed(); }
  /// Empty while open; once closed, why, as calls in flight were told: a suffix such as
  /// " (the worker closed the connection)" or ": <death report>".
  const std::string& close_reason() const noexcept { return client_->close_reason(); }
  /// Whether the worker said it is leaving (it got SIGTERM): it answers the calls in flight, and
  /// the connection then closes, which is no death; a new call fails at once.
  bool is_leaving() const noexcept { return !client_->leaving().empty(); }
  /// The worker at the other end.
  worker<W> peer() const { return worker<W>(client_->peer()); }

 private:
  template <class S, class U>
  boost::asio::awaitable<state_stream<S, U>> open_state(detail::call_frame frame,
                                                        detail::clock::time_point deadline) {
    auto client = client_;
    detail::client::stream_reply reply =
        co_await client->call_streaming_from(std::move(frame), deadline);
    S state = detail::decode<S>(reply.bytes, "state");
    co_return state_stream<S, U>{std::move(state), stream_reader<U>(std::move(reply.stream))};
  }

  template <class T>
  boost::asio::awaitable<stream_reader<T>> open_stream(detail::call_frame frame,
                                                       detail::clock::time_point deadline) {
    auto client = client_;
    detail::client::stream_reply reply =
        co_await client->call_streaming_from(std::move(frame), deadline);
    co_return stream_reader<T>(std::move(reply.stream));
  }

  template <class Q>
  static detail::call_frame make_frame(detail::client& client, std::string_view name,
                                       const Q& query) {
    detail::call_frame frame{client.index_of(name), detail::begin_frame()};
    try {
      detail::encode(query, frame.bytes, detail::frame_header_size + client.max_message_size());
    } catch (const detail::encoding_too_large&) {
      client.refuse_oversized_query(name);
    }
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
  return detail::try_awaitable([&] { return connect(w, arg); });
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
