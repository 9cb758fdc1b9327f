// The map functions of the map-reduce benchmarks (map_reduce.cpp); bench_main registers their
// workers.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <rpc_parallel/map_reduce.hpp>
#include <string_view>

namespace bench {

/// x -> x + 1: nothing but the framework's own cost per item.
struct plus_one {
  static constexpr std::string_view name = "bench_plus_one";
  using input = std::int64_t;
  using output = std::int64_t;
  static output map(input x) { return x + 1; }
};

/// `iterations` rounds of xorshift, a dependency chain the compiler cannot shorten (~1 ns each).
inline std::uint64_t spin(std::int64_t iterations, std::uint64_t seed) {
  std::uint64_t x = seed | 1;
  for (std::int64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

/// CPU-bound items: each spins `param` iterations (calibrated by the master to ~10 ms).
struct busy_work {
  static constexpr std::string_view name = "bench_busy_work";
  using param = std::int64_t;
  struct state {
    std::int64_t iterations = 0;
  };
  using input = std::int64_t;
  using output = std::int64_t;
  static state init(param iterations) { return {iterations}; }
  static output map(state& s, input x) {
    return static_cast<output>(spin(s.iterations, static_cast<std::uint64_t>(x)));
  }
};

/// Sleeps 1 ms and returns its worker's pid: items whose time does not depend on free cores.
struct sleepy_pid {
  static constexpr std::string_view name = "bench_sleepy_pid";
  using input = std::int64_t;
  using output = std::int64_t;
  static output map(input) {
    ::usleep(1000);
    return static_cast<output>(::getpid());
  }
};

}  // namespace bench
