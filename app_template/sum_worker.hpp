// A worker type: adds up ranges of numbers. Copy this file to start a worker of your own.
#pragma once

#include <rpc_parallel/function.hpp>

#include <cstdint>
#include <string>
#include <string_view>

struct sum_worker {
  /// Stable across builds and unique in the app: master and worker find the type by it.
  static constexpr std::string_view name = "sum_worker";

  /// What `spawn` passes to `init_worker_state`, and the state it makes (one per worker).
  using spawn_arg = std::string;  // a label the worker puts in its answers
  struct state {
    std::string label;
    std::int64_t calls = 0;
  };
  static state init_worker_state(spawn_arg label) { return {std::move(label), 0}; }

  /// The functions, as typed handles: `co_await conn.run(sum_worker::sum, 100)`.
  static constexpr rpc_parallel::rpc<sum_worker, std::int64_t, std::int64_t> sum{"sum"};
  static constexpr rpc_parallel::rpc<sum_worker, rpc_parallel::unit, std::string> describe{"describe"};

  static void implement(rpc_parallel::implementations<sum_worker>& impl) {
    impl.add(sum, [](state& s, std::int64_t n) {
      ++s.calls;
      std::int64_t total = 0;
      for (std::int64_t i = 0; i < n; ++i) total += i;
      return total;
    });
    impl.add(describe, [](state& s, rpc_parallel::unit) {
      return s.label + " answered " + std::to_string(s.calls) + " call(s)";
    });
  }
};
