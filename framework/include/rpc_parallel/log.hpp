// The worker log: messages a process writes, streamed to whoever subscribes with
// `connection::subscribe_log`. Rpc_parallel's `Log.Global` plus its built-in `async_log`.
#pragma once

#include <boost/serialization/string.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace rpc_parallel {

enum class log_level : std::uint8_t { debug, info, error };

std::string_view to_string(log_level level) noexcept;

/// One log message as subscribers receive it.
struct log_message {
  std::int64_t time_ns = 0;  ///< Wall-clock time (system_clock) when it was written.
  log_level level = log_level::info;
  std::string text;

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& time_ns& level& text;
  }
  bool operator==(const log_message&) const = default;
};

/// Sends `text` to every current subscriber of this process's log. Messages written while a
/// worker initialises (`init_worker_state`) are also kept, up to 1024, for every later
/// subscriber. Call on the process's I/O thread (where worker functions run). Without an
/// rpc_parallel runtime in the process, the message goes to stderr.
void write_log(log_level level, std::string text);
void write_log(std::string text);

}  // namespace rpc_parallel
