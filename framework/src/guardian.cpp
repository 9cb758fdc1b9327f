#include "rpc_parallel/detail/guardian.hpp"

#include "rpc_parallel/detail/listener.hpp"
#include "rpc_parallel/detail/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using std::chrono::milliseconds;

void exit_process_now(int code) noexcept {
  for (std::FILE* stream : {stdout, stderr}) {
    if (::ftrylockfile(stream) != 0) continue;  // held by a thread that may never let go
    std::fflush(stream);
    ::funlockfile(stream);
  }
  ::_exit(code);
}

guardian::guardian(asio::any_io_executor user_executor, const rpc_settings& settings)
    : user_(std::move(user_executor)),
      settings_(settings),
      links_epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (links_epoll_ < 0)
    throw rpc_error({error_kind::failed,
                     "epoll_create1 for the guardian thread failed: too many "
                     "open files? raise `ulimit -n`"});
  asio::co_spawn(io_, sweep_forever(), asio::detached);
  asio::co_spawn(io_, watch_links(), asio::detached);
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

void guardian::watch(std::shared_ptr<socket_watch> w, bool exit_at_end) {
  asio::post(io_, [this, w = std::move(w), exit_at_end]() mutable {
    if (exit_at_end) {
      // Only the end is asked for (no EPOLLIN): a link's traffic never wakes this thread.
      w->with_fd([this](int fd) {
        epoll_event event{};
        event.events = EPOLLRDHUP | EPOLLET;
        ::epoll_ctl(links_epoll_, EPOLL_CTL_ADD, fd, &event);
      });
    }
    watched_.push_back({std::move(w), exit_at_end});
  });
}

void guardian::track(std::weak_ptr<listener> l) {
  std::erase_if(listeners_, [](const std::weak_ptr<listener>& w) { return w.expired(); });
  listeners_.push_back(std::move(l));
}

asio::awaitable<void> guardian::sweep_forever() {
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(std::max(settings_.heartbeat_interval, milliseconds(10)));
    co_await timer.async_wait(asio::use_awaitable);
    sweep();
  }
}

// A peer is dead when data we sent, or our probes of its closed window, have had no
// acknowledgement for heartbeat_timeout, twice running (the first sweep after a long silence
// may catch data that was only just sent). A peer that stops reading still acknowledges, and
// the kernel alone ends a silent idle connection (keepalive).
void guardian::sweep() {
  std::erase_if(watched_, [](const watched& x) { return x.socket->is_closed(); });
  const auto timeout = static_cast<std::uint32_t>(settings_.heartbeat_timeout.count());
  for (auto& w : watched_) {
    tcp_info info{};
    bool quiet = false;
    w.socket->with_fd([&](int fd) {
      socklen_t size = sizeof info;
      if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return;
      quiet = info.tcpi_last_ack_recv >= timeout && (info.tcpi_unacked > 0 || info.tcpi_probes > 0);
    });
    w.quiet_sweeps = quiet ? w.quiet_sweeps + 1 : 0;
    if (quiet && metrics::on()) metrics::of_this_process().heartbeat_missed();
    if (w.quiet_sweeps >= 2)
      w.socket->declare_dead("no acknowledgement from its host for " +
                             std::to_string(info.tcpi_last_ack_recv) + " ms (heartbeat_timeout " +
                             std::to_string(timeout) + " ms): the host is down or unreachable");
  }
}

asio::awaitable<void> guardian::watch_links() {
  asio::posix::stream_descriptor ends(io_, links_epoll_);
  for (;;) {
    boost::system::error_code ec;
    co_await ends.async_wait(asio::posix::stream_descriptor::wait_read,
                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    epoll_event ready[16];
    int n = ::epoll_wait(links_epoll_, ready, 16, 0);
    if (n > 0 && !exiting_) {
      exiting_ = true;
      asio::co_spawn(io_, exit_unless_done_first(), asio::detached);
    }
  }
}

// The user thread sees the link's end too, and exits by itself once it has handled the frames
// that came before it; a user thread held by user code cannot, so the guardian does.
asio::awaitable<void> guardian::exit_unless_done_first() {
  asio::steady_timer grace(io_, settings_.heartbeat_timeout / 2);
  co_await grace.async_wait(asio::use_awaitable);
  exit_process_now(0);
}

}  // namespace rpc_parallel::detail
