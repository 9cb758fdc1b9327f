// Typed function handles and the typed table a worker type fills with its implementations.
#pragma once

#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/function_table.hpp"
#include "rpc_parallel/detail/wire.hpp"

#include <boost/asio/awaitable.hpp>

#include <string_view>
#include <type_traits>
#include <utility>

namespace rpc_parallel {

/// A request/response function of worker type `Worker`: `co_await conn.run(fn, query)`.
/// Declare as `static constexpr rpc<my_worker, Query, Response> name{"name"};`.
/// Rpc_parallel's `create_rpc`.
template <class Worker, class Query, class Response>
struct rpc {
  std::string_view name;
};

/// A fire-and-forget function: `conn.send(fn, query)` returns once the query is queued; an
/// exception thrown by its implementation is a background failure of the worker. Rpc_parallel's
/// `create_one_way`.
template <class Worker, class Query>
struct one_way {
  std::string_view name;
};

/// A function that streams values of `T` to its caller: the implementation writes through a
/// `stream_writer<T>`, and the stream ends when the implementation returns (an exception ends it
/// with that error). The caller gets a `stream_reader<T>`. Rpc_parallel's `create_pipe`.
template <class Worker, class Query, class T>
struct pipe_rpc {
  std::string_view name;
};

/// Like `pipe_rpc`, but the stream outlives the implementation: it ends when the writer is
/// closed (or its last copy dropped), so any task may keep writing. Writes made before the
/// implementation returns go out after the call's reply. Rpc_parallel's `create_direct_pipe`.
template <class Worker, class Query, class T>
struct direct_pipe_rpc {
  std::string_view name;
};

/// A function that consumes a stream of `Update`s from its caller and returns one `Response`:
/// the implementation reads a `stream_reader<Update>`. The caller passes a range, or writes
/// through a `stream_writer<Update>` (Rpc_parallel's `create_reverse_pipe` and
/// `create_reverse_direct_pipe`).
template <class Worker, class Query, class Update, class Response>
struct reverse_pipe_rpc {
  std::string_view name;
};

/// A function returning a `State` now plus a stream of `Update`s: the implementation returns the
/// state and keeps the `stream_writer<Update>` as a direct pipe does. Rpc_parallel's
/// `create_state`.
template <class Worker, class Query, class State, class Update>
struct state_rpc {
  std::string_view name;
};

/// An empty serialisable value, for queries, responses and arguments that carry nothing.
struct unit {
  template <class Archive>
  void serialize(Archive&, unsigned) {}
  bool operator==(const unit&) const = default;
};

namespace detail {
template <class F>
inline constexpr bool is_rpc_v = false;
template <class W, class Q, class R>
inline constexpr bool is_rpc_v<rpc<W, Q, R>> = true;

template <class T>
struct is_awaitable : std::false_type {};
template <class T, class E>
struct is_awaitable<boost::asio::awaitable<T, E>> : std::true_type {};
template <class T>
struct awaited {
  using type = T;
};
template <class T, class E>
struct awaited<boost::asio::awaitable<T, E>> {
  using type = T;
};

// `Member<W>` when W declares it, else `unit`: what a worker type leaves out defaults to nothing.
template <template <class> class Member, class W, class = void>
struct member_or_unit {
  using type = unit;
};
template <template <class> class Member, class W>
struct member_or_unit<Member, W, std::void_t<Member<W>>> {
  using type = Member<W>;
};
template <class W>
using state_member = typename W::state;
template <class W>
using spawn_arg_member = typename W::spawn_arg;
template <class W>
using connection_state_member = typename W::connection_state;
template <class W>
using connection_arg_member = typename W::connection_arg;
}  // namespace detail

/// The per-worker state of `W`: `W::state`, or `unit` when it declares none.
template <class W>
using state_t = typename detail::member_or_unit<detail::state_member, W>::type;

/// What `spawn` and `serve` pass to `W::init_worker_state`: `W::spawn_arg`, or `unit`.
template <class W>
using spawn_arg_t = typename detail::member_or_unit<detail::spawn_arg_member, W>::type;

/// The per-connection state of `W`: `W::connection_state`, or `unit` when it declares none.
template <class W>
using connection_state_t =
    typename detail::member_or_unit<detail::connection_state_member, W>::type;

/// The argument `connect` takes for `W`: `W::connection_arg`, or `unit` when it declares none.
template <class W>
using connection_arg_t = typename detail::member_or_unit<detail::connection_arg_member, W>::type;

namespace detail {
/// Calls an implementation taking `(state&, connection_state&, args...)`, `(state&, args...)` or
/// `(args...)` as the first of these that it accepts.
template <class W, class F, class... Args>
decltype(auto) invoke_implementation(const F& impl, void* s, void* c, Args&&... args) {
  using state = state_t<W>;
  using conn_state = connection_state_t<W>;
  if constexpr (std::is_invocable_v<const F&, state&, conn_state&, Args...>)
    return impl(*static_cast<state*>(s), *static_cast<conn_state*>(c), std::forward<Args>(args)...);
  else if constexpr (std::is_invocable_v<const F&, state&, Args...>)
    return impl(*static_cast<state*>(s), std::forward<Args>(args)...);
  else
    return impl(std::forward<Args>(args)...);
}

template <class W, class Q, class T, class F>
function_entry make_pipe_entry(std::string_view name, function_kind kind, F impl);
template <class W, class Q, class U, class R, class F>
function_entry make_reverse_pipe_entry(std::string_view name, F impl);
template <class W, class Q, class S, class U, class F>
function_entry make_state_entry(std::string_view name, F impl);
}  // namespace detail

/// What a worker type's `implement` fills: one implementation per declared function.
/// An implementation takes `(state&, connection_state&, query)`, `(state&, query)` or `(query)`
/// and returns
/// the response, an `awaitable` of it, or nothing when the response type is `unit`. It runs on
/// the worker's I/O thread; a coroutine implementation lets other calls proceed while it waits.
template <class W>
class implementations {
 public:
  template <class Q, class R, class F>
  void add(rpc<W, Q, R> fn, F impl) {
    table_.add(make_entry<Q, R>(fn.name, /*one_way=*/false, std::move(impl)));
  }
  template <class Q, class F>
  void add(one_way<W, Q> fn, F impl) {
    table_.add(make_entry<Q, unit>(fn.name, /*one_way=*/true, std::move(impl)));
  }
  /// Implementations take the query and a `stream_writer<T>` after the states.
  template <class Q, class T, class F>
  void add(pipe_rpc<W, Q, T> fn, F impl) {
    table_.add(
        detail::make_pipe_entry<W, Q, T>(fn.name, detail::function_kind::pipe, std::move(impl)));
  }
  template <class Q, class T, class F>
  void add(direct_pipe_rpc<W, Q, T> fn, F impl) {
    table_.add(detail::make_pipe_entry<W, Q, T>(fn.name, detail::function_kind::direct_pipe,
                                                std::move(impl)));
  }
  /// Implementations take the query and a `stream_reader<U>` after the states.
  template <class Q, class U, class R, class F>
  void add(reverse_pipe_rpc<W, Q, U, R> fn, F impl) {
    table_.add(detail::make_reverse_pipe_entry<W, Q, U, R>(fn.name, std::move(impl)));
  }
  /// Implementations take the query and a `stream_writer<U>`, and return the state.
  template <class Q, class S, class U, class F>
  void add(state_rpc<W, Q, S, U> fn, F impl) {
    table_.add(detail::make_state_entry<W, Q, S, U>(fn.name, std::move(impl)));
  }
  detail::function_table take() && { return std::move(table_); }

 private:
  template <class F, class Q>
  static decltype(auto) call(const F& impl, void* s, void* c, Q&& query) {
    return detail::invoke_implementation<W>(impl, s, c, std::forward<Q>(query));
  }

  template <class Q, class R, class F>
  static detail::function_entry make_entry(std::string_view name, bool one_way, F impl) {
    using result = decltype(call(impl, nullptr, nullptr, std::declval<Q>()));
    detail::function_entry entry{
        std::string(name),
        signature<Q, R>(name, one_way),
        one_way ? detail::function_kind::one_way : detail::function_kind::rpc,
        {},
        {},
        {}};
    if constexpr (detail::is_awaitable<result>::value) {
      using value = typename detail::awaited<result>::type;
      static_assert(
          std::is_void_v<value> ? std::is_same_v<R, unit> : std::is_convertible_v<value, R>,
          "the implementation's awaitable must yield the function's response type "
          "(nothing only when the response type is unit)");
      entry.async = [impl = std::move(impl)](
                        void* s, void* c,
                        std::string query) -> boost::asio::awaitable<std::string> {
        std::string reply = detail::begin_frame();
        if constexpr (std::is_void_v<value>) {
          auto decoded = detail::decode_owned<Q>(std::move(query), "query");
          co_await call(impl, s, c, std::move(decoded));
          detail::encode(R{}, reply);
        } else {
          auto decoded = detail::decode_owned<Q>(std::move(query), "query");
          R response = co_await call(impl, s, c, std::move(decoded));
          detail::encode<R>(response, reply);
        }
        co_return reply;
      };
    } else {
      static_assert(
          std::is_void_v<result> ? std::is_same_v<R, unit> : std::is_convertible_v<result, R>,
          "the implementation must return the function's response type (nothing only "
          "when the response type is unit)");
      entry.sync = [impl = std::move(impl)](void* s, void* c, std::string query,
                                            std::string& reply) {
        if constexpr (std::is_void_v<result>) {
          call(impl, s, c, detail::decode_owned<Q>(std::move(query), "query"));
          detail::encode(R{}, reply);
        } else {
          detail::encode<R>(call(impl, s, c, detail::decode_owned<Q>(std::move(query), "query")),
                            reply);
        }
      };
    }
    return entry;
  }

  template <class Q, class R>
  static std::string signature(std::string_view name, bool one_way) {
    return std::string(name) + "(" + detail::type_name(typeid(Q)) + ") -> " +
           (one_way ? std::string("one_way") : detail::type_name(typeid(R)));
  }

  detail::function_table table_;
};

}  // namespace rpc_parallel

#include "rpc_parallel/detail/stream_function.hpp"
