#include "rpc_parallel/detail/stderr_relay.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

std::shared_ptr<stderr_relay> stderr_relay::start(asio::any_io_executor executor, int fd,
                                                  std::string prefix) {
  std::shared_ptr<stderr_relay> relay(new stderr_relay(executor, fd, std::move(prefix)));
  asio::co_spawn(executor, relay->relay(), asio::detached);
  return relay;
}

stderr_relay::stderr_relay(asio::any_io_executor executor, int fd, std::string prefix)
    : pipe_(executor, fd), prefix_(std::move(prefix)), done_signal_(executor) {}

asio::awaitable<void> stderr_relay::relay() {
  auto self = shared_from_this();
  std::string buffer;
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await asio::async_read_until(pipe_, asio::dynamic_buffer(buffer), '\n',
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!buffer.empty()) n = buffer.size();  // a last line without its newline
      else break;
    }
    std::string line = buffer.substr(0, n);
    buffer.erase(0, n);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    std::cerr << prefix_ << line << std::endl;
    tail_.push_back(std::move(line));
    if (tail_.size() > 20) tail_.pop_front();
    if (ec) break;
  }
  done_ = true;
  done_signal_.cancel();
}

asio::awaitable<void> stderr_relay::finished() {
  auto self = shared_from_this();
  while (!done_) {
    done_signal_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await done_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

std::string stderr_relay::tail() const {
  std::string text;
  for (auto& line : tail_) text += "  " + line + "\n";
  if (!text.empty()) text.pop_back();
  return text;
}

}  // namespace rpc_parallel::detail
