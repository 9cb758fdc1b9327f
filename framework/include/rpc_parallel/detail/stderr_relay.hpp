// Copies a starting worker's stderr to ours, line by line with a prefix, until it is released.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <memory>
#include <string>

namespace rpc_parallel::detail {

class stderr_relay : public std::enable_shared_from_this<stderr_relay> {
 public:
  /// Takes ownership of `fd` and relays until end of file.
  static std::shared_ptr<stderr_relay> start(boost::asio::any_io_executor executor, int fd,
                                             std::string prefix);
  /// Waits until the worker closed its end (it was released, or it died).
  boost::asio::awaitable<void> finished();
  /// The last lines relayed, for error messages.
  std::string tail() const;

 private:
  stderr_relay(boost::asio::any_io_executor executor, int fd, std::string prefix);
  boost::asio::awaitable<void> relay();

  boost::asio::readable_pipe pipe_;
  std::string prefix_;
  std::deque<std::string> tail_;
  bool done_ = false;
  boost::asio::steady_timer done_signal_;
};

}  // namespace rpc_parallel::detail
