// Printing figures and ratios in the one format bench/run.sh parses: "name: value unit".
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// The `p` quantile (0..1) of `v`, by sorting a copy.
inline double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

inline void report(const std::string& name, double value, const std::string& unit) {
  std::printf("%s: %.3f %s\n", name.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

/// For times: ours / floor, lower is better.
inline void ratio(const std::string& what, double ours, double floor, const std::string& target) {
  std::printf("ratio %s: %.2fx the floor (target %s)\n", what.c_str(), ours / floor,
              target.c_str());
  std::fflush(stdout);
}

/// For rates: ours / floor, higher is better.
inline void rate_ratio(const std::string& what, double ours, double floor,
                       const std::string& target) {
  std::printf("ratio %s: %.2fx the floor's rate (target %s)\n", what.c_str(), ours / floor,
              target.c_str());
  std::fflush(stdout);
}

}  // namespace bench
