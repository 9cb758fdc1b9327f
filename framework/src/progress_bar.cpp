#include "rpc_parallel/detail/progress_bar.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace rpc_parallel::detail {
namespace {

std::string human_rate(double per_second) {
  char text[32];
  if (per_second >= 1e6)
    std::snprintf(text, sizeof text, "%.2fM", per_second / 1e6);
  else if (per_second >= 1e3)
    std::snprintf(text, sizeof text, "%.1fk", per_second / 1e3);
  else
    std::snprintf(text, sizeof text, "%.1f", per_second);
  return text;
}

}  // namespace

std::string progress_line(const map_progress& p, bool last) {
  double seconds = std::chrono::duration<double>(p.elapsed).count();
  double rate = seconds > 0 ? static_cast<double>(p.done) / seconds : 0;
  std::string line = "\r";
  if (p.total && *p.total > 0) {
    double fraction = std::min(1.0, static_cast<double>(p.done) / static_cast<double>(*p.total));
    int filled = static_cast<int>(fraction * 30);
    line.push_back('[');
    line.append(static_cast<std::size_t>(filled), '#');
    line.append(static_cast<std::size_t>(30 - filled), ' ');
    line.append("] ");
    char numbers[96];
    std::snprintf(numbers, sizeof numbers, "%3.0f%% %llu/%llu", fraction * 100,
                  static_cast<unsigned long long>(p.done),
                  static_cast<unsigned long long>(*p.total));
    line += numbers;
  } else {
    line += std::to_string(p.done) + " items";
  }
  line += "  " + human_rate(rate) + " items/s";
  if (p.total && rate > 0 && !last) {
    double eta = static_cast<double>(*p.total - std::min(*p.total, p.done)) / rate;
    line += "  ETA " + std::to_string(static_cast<long long>(std::ceil(eta))) + "s";
  }
  line += "  workers " + std::to_string(p.workers);
  if (p.retried) line += "  retried " + std::to_string(p.retried);
  if (p.timed_out) line += "  timed out " + std::to_string(p.timed_out);
  if (p.speculated) line += "  speculated " + std::to_string(p.speculated);
  if (p.failed) line += "  failed " + std::to_string(p.failed);
  if (!p.excluded_hosts.empty()) {
    line += "  excluded:";
    for (const std::string& host : p.excluded_hosts) line += " " + host;
  }
  line += "   ";
  if (last) line += "\n";
  return line;
}

}  // namespace rpc_parallel::detail
