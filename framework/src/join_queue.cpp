#include "rpc_parallel/detail/join_queue.hpp"

#include "rpc_parallel/error.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <unistd.h>

namespace rpc_parallel::detail {

void join_queue::push(joiner j) {
  if (closed_) {
    j.link->close();
    return;
  }
  waiting_.push_back(std::move(j));
  changed_.notify();
}

boost::asio::awaitable<joiner> join_queue::take(std::string type) {
  for (;;) {
    if (closed_)
      throw rpc_error({error_kind::disconnected, "joins are closed: the master is ending"});
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
      if (!it->request.type.empty() && it->request.type != type) continue;
      joiner j = std::move(*it);
      waiting_.erase(it);
      co_return j;
    }
    co_await changed_.wait();
  }
}

boost::asio::awaitable<bool> join_queue::await_waiting(
    std::size_t count, std::chrono::steady_clock::time_point until) {
  // The timer only wakes the loop below; it is cancelled before the queue can go.
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, until);
  timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) changed_.notify();
  });
  while (waiting_.size() < count && !closed_ && std::chrono::steady_clock::now() < until)
    co_await changed_.wait();
  timer.cancel();
  co_return waiting_.size() >= count;
}

void join_queue::close() noexcept {
  closed_ = true;
  for (auto& j : waiting_) j.link->close();
  waiting_.clear();
  for (const auto& file : files_) ::unlink(file.c_str());
  files_.clear();
  changed_.notify();
}

boost::asio::awaitable<prepared_launch> join_launcher::prepare(std::uint16_t, bool) const {
  throw rpc_error({error_kind::failed, "internal: a join is not launched"});
  co_return prepared_launch{};
}

launched join_launcher::launch(const launch_request&, prepared_launch) const {
  throw rpc_error({error_kind::failed, "internal: a join is not launched"});
}

}  // namespace rpc_parallel::detail
