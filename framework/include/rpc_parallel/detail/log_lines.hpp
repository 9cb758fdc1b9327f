// How this process writes lines to stderr: as text (the default), or, when the app asks
// (`--rpc-log-json`, rpc_settings::json_logs), as JSON lines that log shippers take as they are.
#pragma once

#include "rpc_parallel/log.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace rpc_parallel::detail {

bool json_logs() noexcept;
void set_json_logs(bool on) noexcept;
/// Who this process is in its lines: "master" (the default), or its worker name.
void set_log_identity(std::string worker);

/// Where a line comes from.
struct log_source {
  std::string host;
  std::int64_t pid = 0;  ///< 0: not known yet
  std::string worker;
};
log_source this_process_source();

/// One JSON object on one line (no newline): "time" (UTC, RFC 3339 with microseconds), "host",
/// "pid" (null when unknown), "worker", "level" and "text".
std::string json_log_line(const log_source& from, log_level level, std::string_view text);

/// A message of the framework's own: `prefix` and `text` as one line of text, or `text` alone
/// as this process's JSON line.
void say(log_level level, std::string_view prefix, std::string_view text);

}  // namespace rpc_parallel::detail
