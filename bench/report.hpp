// Printing figures and ratios in the one format bench/run.sh parses: "name: value unit".
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
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

/// Waits (up to `max_wait`) until the machine's CPUs were at least `wanted` idle over half a
/// second, as other jobs share these cores, and prints "idle_before_<section>: %" (the last
/// half second's idle share, whether or not it got there).
inline void wait_for_idle(const std::string& section, double wanted = 0.9,
                          std::chrono::seconds max_wait = std::chrono::seconds(30)) {
  auto sample = [] {  // {idle + iowait, total} jiffies since boot, from /proc/stat's "cpu" line
    std::ifstream stat("/proc/stat");
    std::string cpu;
    stat >> cpu;
    unsigned long long v, idle = 0, total = 0;
    for (int i = 0; i < 8 && stat >> v; ++i) {
      total += v;
      if (i == 3 || i == 4) idle += v;
    }
    return std::pair{idle, total};
  };
  auto deadline = clock_type::now() + max_wait;
  double share = 0;
  do {
    auto a = sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto b = sample();
    share = b.second > a.second ? double(b.first - a.first) / double(b.second - a.second) : 1.0;
  } while (share < wanted && clock_type::now() < deadline);
  std::printf("idle_before_%s: %.0f %%\n", section.c_str(), share * 100);
  std::fflush(stdout);
}

}  // namespace bench
