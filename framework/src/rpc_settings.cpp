#include "rpc_parallel/rpc_settings.hpp"

#include "rpc_parallel/error.hpp"

#include <charconv>
#include <cstdlib>

namespace rpc_parallel {
namespace {

std::uint64_t parse_number(std::string_view key, std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  RPCP_REQUIRE(ec == std::errc() && end == text.data() + text.size(), rpc_settings_env_var,
               ": field ", key, " needs a whole number, got \"", text, "\"");
  return value;
}

std::chrono::milliseconds parse_duration(std::string_view key, std::string_view text) {
  if (text.ends_with("ms"))
    return std::chrono::milliseconds(parse_number(key, text.substr(0, text.size() - 2)));
  if (text.ends_with("s"))
    return std::chrono::seconds(parse_number(key, text.substr(0, text.size() - 1)));
  return std::chrono::milliseconds(parse_number(key, text));
}

bool parse_bool(std::string_view key, std::string_view text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  RPCP_REQUIRE(false, rpc_settings_env_var, ": field ", key, " needs true or false, got \"", text,
               "\"");
  return false;
}

}  // namespace

rpc_settings validate(rpc_settings s) {
  RPCP_REQUIRE(s.heartbeat_interval.count() > 0 && s.heartbeat_timeout.count() > 0 &&
                   s.handshake_timeout.count() > 0 && s.max_message_size > 0 &&
                   s.stream_window > 0 && s.call_timeout.count() >= 0,
               "rpc settings: timeouts, heartbeat interval, max_message_size and stream_window "
               "must be positive (call_timeout zero or positive)");
  return s;
}

rpc_settings override_rpc_settings(rpc_settings base, std::string_view text) {
  while (!text.empty()) {
    auto comma = text.find(',');
    auto field = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (field.empty()) continue;
    auto eq = field.find('=');
    RPCP_REQUIRE(eq != std::string_view::npos, rpc_settings_env_var, ": \"", field,
                 "\" is not key=value");
    auto key = field.substr(0, eq), value = field.substr(eq + 1);
    if (key == "max_message_size")
      base.max_message_size = parse_number(key, value);
    else if (key == "handshake_timeout")
      base.handshake_timeout = parse_duration(key, value);
    else if (key == "heartbeat_interval")
      base.heartbeat_interval = parse_duration(key, value);
    else if (key == "heartbeat_timeout")
      base.heartbeat_timeout = parse_duration(key, value);
    else if (key == "stream_window")
      base.stream_window = parse_number(key, value);
    else if (key == "call_timeout")
      base.call_timeout = parse_duration(key, value);
    else if (key == "same_host_sockets")
      base.same_host_sockets = parse_bool(key, value);
    else
      RPCP_REQUIRE(false, rpc_settings_env_var, ": unknown field \"", key,
                   "\"; known: max_message_size, handshake_timeout, heartbeat_interval, "
                   "heartbeat_timeout, stream_window, call_timeout, same_host_sockets");
  }
  return validate(base);
}

rpc_settings rpc_settings_from_environment(rpc_settings base) {
  const char* text = std::getenv(std::string(rpc_settings_env_var).c_str());
  return text ? override_rpc_settings(base, text) : validate(base);
}

std::string to_string(const rpc_settings& s) {
  return "max_message_size=" + std::to_string(s.max_message_size) +
         ",handshake_timeout=" + std::to_string(s.handshake_timeout.count()) + "ms" +
         ",heartbeat_interval=" + std::to_string(s.heartbeat_interval.count()) + "ms" +
         ",heartbeat_timeout=" + std::to_string(s.heartbeat_timeout.count()) + "ms" +
         ",stream_window=" + std::to_string(s.stream_window) +
         ",call_timeout=" + std::to_string(s.call_timeout.count()) + "ms" +
         ",same_host_sockets=" + (s.same_host_sockets ? "true" : "false");
}

}  // namespace rpc_parallel
