// A map-reduce function: counts the primes in a range of numbers. Copy this file to start one of
// your own; a plain map function has `output` in place of `accum` and no `combine`.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

struct count_primes {
  /// Stable across builds and unique in the app: master and workers find the function by it.
  static constexpr std::string_view name = "count_primes";

  /// Serialisable values: what the master sends, what a worker sends back.
  using input = std::pair<std::int64_t, std::int64_t>;  // the numbers first..last-1
  using accum = std::int64_t;                           // how many of them are prime

  /// Runs on a worker, once per input.
  static accum map(const input& range) {
    accum primes = 0;
    for (std::int64_t n = range.first; n < range.second; ++n) primes += is_prime(n) ? 1 : 0;
    return primes;
  }

  /// Merges two results; map_reduce_commutative calls it in any order.
  static accum combine(accum a, accum b) { return a + b; }

  static bool is_prime(std::int64_t n) {
    if (n < 4) return n >= 2;
    if (n % 2 == 0) return false;
    for (std::int64_t d = 3; d * d <= n; d += 2)
      if (n % d == 0) return false;
    return true;
  }
};
