// How the streaming function kinds become type-erased table entries (included by function.hpp).
#pragma once

#include "rpc_parallel/function.hpp"
#include "rpc_parallel/stream.hpp"

namespace rpc_parallel::detail {

template <class Result>
inline constexpr bool returns_awaitable_v = is_awaitable<Result>::value;

template <class W, class Q, class T, class F>
function_entry make_pipe_entry(std::string_view name, function_kind kind, F impl) {
  using result = decltype(invoke_implementation<W>(impl, nullptr, nullptr, std::declval<Q>(),
                                                   std::declval<stream_writer<T>>()));
  static_assert(std::is_void_v<result> || std::is_same_v<result, boost::asio::awaitable<void>>,
                "a pipe implementation returns nothing (or awaitable<void>); it writes its values "
                "through the stream_writer");
  function_entry entry;
  entry.name = std::string(name);
  entry.kind = kind;
  entry.signature = std::string(name) + "(" + type_name(typeid(Q)) + ") -> " +
                    (kind == function_kind::pipe ? "pipe<" : "direct_pipe<") +
                    type_name(typeid(T)) + ">";
  entry.stream = [impl = std::move(impl), kind](
                     void* s, void* c, std::string query, std::shared_ptr<outbound_stream> out,
                     std::shared_ptr<inbound_stream>) -> boost::asio::awaitable<std::string> {
    auto decoded = decode_owned<Q>(std::move(query), "query");
    // A pipe ends when its implementation does (the server closes it, with the error if any);
    // a direct pipe when its last writer goes.
    stream_writer<T> writer(kind == function_kind::pipe ? std::move(out)
                                                        : writer_handle(std::move(out)));
    if constexpr (returns_awaitable_v<result>)
      co_await invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(writer));
    else
      invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(writer));
    co_return std::string();
  };
  return entry;
}

template <class W, class Q, class U, class R, class F>
function_entry make_reverse_pipe_entry(std::string_view name, F impl) {
  using result = decltype(invoke_implementation<W>(impl, nullptr, nullptr, std::declval<Q>(),
                                                   std::declval<stream_reader<U>>()));
  using value = typename awaited<result>::type;
  static_assert(std::is_void_v<value> ? std::is_same_v<R, unit> : std::is_convertible_v<value, R>,
                "a reverse pipe implementation returns the response (or an awaitable of it)");
  function_entry entry;
  entry.name = std::string(name);
  entry.kind = function_kind::reverse_pipe;
  entry.signature = std::string(name) + "(" + type_name(typeid(Q)) + ", reverse_pipe<" +
                    type_name(typeid(U)) + ">) -> " + type_name(typeid(R));
  entry.stream = [impl = std::move(impl)](
                     void* s, void* c, std::string query, std::shared_ptr<outbound_stream>,
                     std::shared_ptr<inbound_stream> in) -> boost::asio::awaitable<std::string> {
    auto decoded = decode_owned<Q>(std::move(query), "query");
    stream_reader<U> reader(std::move(in));
    std::string reply;
    if constexpr (std::is_void_v<value>) {
      if constexpr (returns_awaitable_v<result>)
        co_await invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(reader));
      else
        invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(reader));
      encode(R{}, reply);
    } else if constexpr (returns_awaitable_v<result>) {
      R response =
          co_await invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(reader));
      encode<R>(response, reply);
    } else {
      R response = invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(reader));
      encode<R>(response, reply);
    }
    co_return reply;
  };
  return entry;
}

template <class W, class Q, class S, class U, class F>
function_entry make_state_entry(std::string_view name, F impl) {
  using result = decltype(invoke_implementation<W>(impl, nullptr, nullptr, std::declval<Q>(),
                                                   std::declval<stream_writer<U>>()));
  using value = typename awaited<result>::type;
  static_assert(std::is_convertible_v<value, S>,
                "a state implementation returns the initial state (or an awaitable of it)");
  function_entry entry;
  entry.name = std::string(name);
  entry.kind = function_kind::state;
  entry.signature = std::string(name) + "(" + type_name(typeid(Q)) + ") -> state<" +
                    type_name(typeid(S)) + ", " + type_name(typeid(U)) + ">";
  entry.stream = [impl = std::move(impl)](
                     void* s, void* c, std::string query, std::shared_ptr<outbound_stream> out,
                     std::shared_ptr<inbound_stream>) -> boost::asio::awaitable<std::string> {
    auto decoded = decode_owned<Q>(std::move(query), "query");
    stream_writer<U> writer(writer_handle(std::move(out)));
    std::string reply;
    if constexpr (returns_awaitable_v<result>) {
      S state =
          co_await invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(writer));
      encode<S>(state, reply);
    } else {
      S state = invoke_implementation<W>(impl, s, c, std::move(decoded), std::move(writer));
      encode<S>(state, reply);
    }
    co_return reply;
  };
  return entry;
}

}  // namespace rpc_parallel::detail
