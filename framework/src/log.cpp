#include "rpc_parallel/log.hpp"

#include "rpc_parallel/detail/log_hub.hpp"
#include "rpc_parallel/detail/log_lines.hpp"
#include "rpc_parallel/detail/node.hpp"

#include <chrono>
#include <iostream>

namespace rpc_parallel {

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::error:
      return "error";
  }
  return "unknown";
}

void write_log(log_level level, std::string text) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  log_message message{std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(), level,
                      std::move(text)};
  if (detail::node* n = detail::node::current_or_null()) {
    if (detail::json_logs())  // also for log shippers, through the master's stderr
      std::cerr << detail::json_log_line(detail::this_process_source(), level, message.text)
                << std::endl;
    n->logs().write(message);
    return;
  }
  std::cerr << "[" << to_string(level) << "] " << message.text << '\n';
}

void write_log(std::string text) { write_log(log_level::info, std::move(text)); }

namespace detail {

void log_hub::write(const log_message& message) {
  if (keeping_) {
    if (kept_.size() < max_kept)
      kept_.push_back(message);
    else
      ++dropped_;
  }
  std::erase_if(subscribers_, [&message](stream_writer<log_message>& w) {
    if (w.queued_bytes() > node::current().settings().stream_window) {
      w.close_with_error({error_kind::overloaded,
                          "log subscription closed: the subscriber fell a whole stream window "
                          "behind; read faster or raise stream_window"});
      return true;
    }
    return !w.write_without_pushback(message);
  });
}

void log_hub::subscribe(stream_writer<log_message> writer) {
  for (const log_message& m : kept_)
    if (!writer.write_without_pushback(m)) return;
  if (dropped_ > 0 && !writer.write_without_pushback(
                          {kept_.back().time_ns, log_level::info,
                           std::to_string(dropped_) +
                               " more messages written during initialisation were not kept"}))
    return;
  subscribers_.push_back(std::move(writer));
}

}  // namespace detail
}  // namespace rpc_parallel
