#include "rpc_parallel/detail/guardian.hpp"

#include "rpc_parallel/detail/listener.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

namespace {

milliseconds tick_for(milliseconds heartbeat_timeout) {
  return std::clamp(heartbeat_timeout / 20, milliseconds(5), milliseconds(50));
}

// Edge-triggered: an event when bytes arrive or the connection ends; what a bounded rescue()
// left behind is swept at the next tick.
constexpr std::uint32_t rescue_events = EPOLLIN | EPOLLRDHUP | EPOLLET;

}  // namespace

void exit_process_now(int code) noexcept {
  for (std::FILE* stream : {stdout, stderr}) {
    if (::ftrylockfile(stream) != 0) continue;  // held by a thread that may never let go
    std::fflush(stream);
    ::funlockfile(stream);
  }
  ::_exit(code);
}

guardian::guardian(asio::any_io_executor user_executor, milliseconds heartbeat_timeout)
    : user_(std::move(user_executor)),
      tick_(tick_for(heartbeat_timeout)),
      stall_after_(2 * tick_),
      ping_(std::make_shared<user_thread_ping>()) {
  asio::co_spawn(io_, watch_user_thread(), asio::detached);
  // Signals stay with the user's thread: the guardian thread blocks them all.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { io_.run(); });
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

guardian::~guardian() {
  // Listeners first, on this thread, in order: their acceptors must be gone before io_ is.
  for (auto& weak : listeners_)
    if (auto l = weak.lock()) l->shut_down();
  asio::post(io_, [this] { io_.stop(); });
  thread_.join();
}

void guardian::track(std::weak_ptr<listener> l) {
  std::erase_if(listeners_, [](const std::weak_ptr<listener>& w) { return w.expired(); });
  listeners_.push_back(std::move(l));
}

void guardian::watch(std::shared_ptr<frame_reader> input, while_stalled rules) {
  std::lock_guard lock(watched_mutex_);
  std::erase_if(watched_, [](const std::shared_ptr<watched>& w) { return w->input->is_closed(); });
  watched_.push_back(std::make_shared<watched>(watched{std::move(input), rules}));
}

std::vector<std::shared_ptr<guardian::watched>> guardian::current_watches() {
  std::lock_guard lock(watched_mutex_);
  return watched_;
}

// The user thread answers a ping whenever it is back in its event loop; one unanswered for
// stall_after_ means user code is holding it.
void guardian::send_ping() {
  ping_->outstanding = true;
  ping_->sent = std::chrono::steady_clock::now();
  asio::post(user_, [ping = ping_] { ping->outstanding = false; });
}

bool guardian::user_thread_stalled() const {
  return ping_->outstanding && std::chrono::steady_clock::now() - ping_->sent >= stall_after_;
}

asio::awaitable<void> guardian::watch_user_thread() {
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(tick_);
    co_await timer.async_wait(asio::use_awaitable);
    if (!ping_->outstanding)
      send_ping();
    else if (user_thread_stalled())
      co_await rescue_while_stalled();
  }
}

// One stall: every watched connection goes into an epoll set of our own (so that the user
// thread's reactor is never touched from here), read on each event and swept at each tick,
// until the user thread answers its ping.
asio::awaitable<void> guardian::rescue_while_stalled() {
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) co_return;  // out of descriptors: try again at the next tick
  asio::posix::stream_descriptor events(io_, epoll_fd);
  asio::steady_timer tick(io_);
  std::vector<std::shared_ptr<watched>> episode;
  while (user_thread_stalled()) {
    for (auto& w : current_watches()) {
      if (w->in_episode) continue;
      w->in_episode = w->input->add_to(epoll_fd, rescue_events, w.get());
      if (w->in_episode) episode.push_back(w);
    }
    tick.expires_after(tick_);
    boost::system::error_code ec_events, ec_tick;
    co_await (events.async_wait(asio::posix::stream_descriptor::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec_events)) ||
              tick.async_wait(asio::redirect_error(asio::use_awaitable, ec_tick)));
    epoll_event ready[64];
    int n = ::epoll_wait(epoll_fd, ready, 64, 0);
    for (int i = 0; i < n; ++i) handle(*static_cast<watched*>(ready[i].data.ptr), ready[i].events);
    if (n <= 0)
      for (auto& w : episode) handle(*w, 0);  // what a bounded rescue() left behind
  }
  for (auto& w : episode) w->in_episode = false;
}

void guardian::handle(watched& w, std::uint32_t events) {
  frame_reader::rescued r = w.input->rescue();
  // A closed reader's descriptor may already belong to something else: trust nothing of it.
  if (r.closed) return;
  bool ended = r.ended || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if ((ended && w.rules.exit_at_end) || (r.shutdown && w.rules.exit_at_shutdown))
    exit_process_now(0);
}

}  // namespace rpc_parallel::detail
