#include "rpc_parallel/detail/log_lines.hpp"

#include "rpc_parallel/detail/node.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>

namespace rpc_parallel::detail {
namespace {

std::atomic<bool> json_on{false};
std::mutex identity_mutex;
std::string identity = "master";

std::string quoted(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  char text[40];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::snprintf(text + n, sizeof text - n, ".%06lldZ", static_cast<long long>(micros % 1'000'000));
  return text;
}

}  // namespace

bool json_logs() noexcept { return json_on.load(std::memory_order_relaxed); }
void set_json_logs(bool on) noexcept { json_on.store(on, std::memory_order_relaxed); }

void set_log_identity(std::string worker) {
  std::lock_guard lock(identity_mutex);
  identity = std::move(worker);
}

log_source this_process_source() {
  std::lock_guard lock(identity_mutex);
  return {host_name(), static_cast<std::int64_t>(::getpid()), identity};
}

std::string json_log_line(const log_source& from, log_level level, std::string_view text) {
  std::string line = "{\"time\":\"" + utc_now() + "\",\"host\":" + quoted(from.host) +
                     ",\"pid\":" + (from.pid > 0 ? std::to_string(from.pid) : "null") +
                     ",\"worker\":" + quoted(from.worker) + ",\"level\":\"" +
                     std::string(to_string(level)) + "\",\"text\":" + quoted(text) + "}";
  return line;
}

void say(log_level level, std::string_view prefix, std::string_view text) {
  if (json_logs())
    std::cerr << json_log_line(this_process_source(), level, text) << std::endl;
  else
    std::cerr << prefix << text << std::endl;
}

}  // namespace rpc_parallel::detail
