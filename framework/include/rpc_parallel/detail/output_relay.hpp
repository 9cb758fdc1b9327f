// Copies a worker's stdout or stderr to ours, line by line, each line prefixed with who wrote it
// (or, for stderr under json_logs, each as a JSON line saying who wrote it).
#pragma once

#include "rpc_parallel/detail/log_lines.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

class output_relay : public std::enable_shared_from_this<output_relay> {
 public:
  /// Takes ownership of `fd` and relays its lines to `out` until end of file. Lines wait until
  /// `name` says who writes them; lines still waiting at the end are `fallback`'s. With
  /// `as_json`, a line that is a JSON object already (the worker's own, under json_logs) is
  /// relayed as it is, and any other becomes one (level info).
  static std::shared_ptr<output_relay> start(boost::asio::any_io_executor executor, int fd,
                                             std::ostream& out, log_source fallback,
                                             bool as_json = false);
  /// Says who writes the lines (their prefix `[HOST PID NAME] `) and writes those that waited.
  void name(log_source who);
  /// Waits until every writer closed its end (the worker was released, or exited).
  boost::asio::awaitable<void> finished();
  bool is_finished() const noexcept { return done_; }
  /// The last lines relayed (40), for error messages and death reports.
  std::string tail() const;
  /// From now on keeps the tail only: a local worker's stderr, kept for its death report.
  void mute() noexcept { muted_ = true; }

 private:
  output_relay(boost::asio::any_io_executor executor, int fd, std::ostream& out,
               log_source fallback, bool as_json);
  boost::asio::awaitable<void> relay();
  void emit(const std::string& line);
  void write(const std::string& line);  // once named

  boost::asio::readable_pipe pipe_;
  std::ostream* out_;
  log_source fallback_;
  bool as_json_;
  std::optional<log_source> who_;
  std::string prefix_;
  std::vector<std::string> waiting_;
  std::deque<std::string> tail_;
  bool done_ = false;
  bool muted_ = false;
  boost::asio::steady_timer done_signal_;
};

}  // namespace rpc_parallel::detail
