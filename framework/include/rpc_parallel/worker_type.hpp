// What a worker type declares, and the type-erased view the framework keeps of it.
#pragma once

#include "rpc_parallel/function.hpp"

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace rpc_parallel {

/// A worker type is a struct with:
///   `static constexpr std::string_view name`: stable across builds, unique in the app;
///   `static void implement(implementations<W>&)`, which adds every declared function;
/// and optionally (each defaults to nothing: `unit`, or a default-constructed state)
///   `state`, `spawn_arg` and `static state init_worker_state(spawn_arg)` (or awaitable<state>);
///   `connection_state`, `connection_arg` and
///   `static connection_state init_connection_state(state&, connection_arg)` (or awaitable).
template <class W>
concept worker_type = requires {
  { W::name } -> std::convertible_to<std::string_view>;
  W::implement(std::declval<implementations<W>&>());
};

namespace detail {

/// One registered worker type with its states erased: how a worker process serves it.
struct worker_type_entry {
  std::string name;
  function_table functions;
  std::function<boost::asio::awaitable<std::shared_ptr<void>>(std::string spawn_arg)>
      init_worker_state;
  std::function<boost::asio::awaitable<std::shared_ptr<void>>(void* state, std::string arg)>
      init_connection_state;
};

template <class T, class Make>
boost::asio::awaitable<std::shared_ptr<void>> make_state(Make make) {
  if constexpr (is_awaitable<decltype(make())>::value) {
    T state = co_await make();
    co_return std::make_shared<T>(std::move(state));
  } else
    co_return std::make_shared<T>(make());
}

template <worker_type W>
worker_type_entry make_worker_type_entry() {
  using state = state_t<W>;
  using conn_state = connection_state_t<W>;
  worker_type_entry entry;
  entry.name = std::string(W::name);
  implementations<W> impl;
  W::implement(impl);
  entry.functions = std::move(impl).take();
  entry.init_worker_state = [](std::string bytes) {
    return make_state<state>([arg = decode<spawn_arg_t<W>>(bytes, "spawn argument")]() mutable {
      if constexpr (requires { W::init_worker_state(std::move(arg)); })
        return W::init_worker_state(std::move(arg));
      else
        return state{};
    });
  };
  entry.init_connection_state = [](void* s, std::string bytes) {
    auto arg = decode<connection_arg_t<W>>(bytes, "connection argument");
    if constexpr (requires { W::init_connection_state(*static_cast<state*>(s), std::move(arg)); })
      return make_state<conn_state>([s, arg = std::move(arg)]() mutable {
        return W::init_connection_state(*static_cast<state*>(s), std::move(arg));
      });
    else
      return make_state<conn_state>([] { return conn_state{}; });
  };
  return entry;
}

/// The entry of `W`, built once from its static declarations (a cache, not a registry).
template <worker_type W>
const worker_type_entry& worker_type_of() {
  static const worker_type_entry entry = make_worker_type_entry<W>();
  return entry;
}

}  // namespace detail
}  // namespace rpc_parallel
