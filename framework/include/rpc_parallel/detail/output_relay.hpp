// Copies a worker's stdout or stderr to ours, line by line, each line prefixed with who wrote it.
#pragma once

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
  /// `name` gives their prefix; lines still waiting at the end get `fallback_prefix`.
  static std::shared_ptr<output_relay> start(boost::asio::any_io_executor executor, int fd,
                                             std::ostream& out, std::string fallback_prefix);
  /// Sets the prefix (`[HOST PID NAME] `) and writes the lines that waited for it.
  void name(std::string prefix);
  /// Waits until every writer closed its end (the worker was released, or exited).
  boost::asio::awaitable<void> finished();
  bool is_finished() const noexcept { return done_; }
  /// The last lines relayed (40), for error messages and death reports.
  std::string tail() const;
  /// From now on keeps the tail only: a local worker's stderr, kept for its death report.
  void mute() noexcept { muted_ = true; }

 private:
  output_relay(boost::asio::any_io_executor executor, int fd, std::ostream& out,
               std::string fallback_prefix);
  boost::asio::awaitable<void> relay();
  void emit(const std::string& line);

  boost::asio::readable_pipe pipe_;
  std::ostream* out_;
  std::string fallback_prefix_;
  std::optional<std::string> prefix_;
  std::vector<std::string> waiting_;
  std::deque<std::string> tail_;
  bool done_ = false;
  bool muted_ = false;
  boost::asio::steady_timer done_signal_;
};

}  // namespace rpc_parallel::detail
