#include "rpc_parallel/detail/interruption.hpp"

#include "rpc_parallel/detail/death_note.hpp"
#include "rpc_parallel/detail/log_lines.hpp"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace rpc_parallel::detail {
namespace {

int first_signal = 0;

std::list<std::function<void(int)>>& listeners() {
  static std::list<std::function<void(int)>> all;
  return all;
}

// Dies of `signal` as if nothing had handled it.
[[noreturn]] void die_of(int signal) {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  ::sigaction(signal, &action, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(signal);
  ::_exit(128 + signal);  // not reached: the default action of both is to terminate
}

}  // namespace

interruption_handler::interruption_handler(const boost::asio::any_io_executor& executor)
    : signals_(executor, SIGTERM, SIGINT) {
  wait();
}

void interruption_handler::wait() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;  // the master is ending
    std::string name = signal_abbreviation(signal);
    if (interrupted_ || listeners().empty()) {
      if (interrupted_) say(log_level::info, "[rpc_parallel] ", name + " again: exiting at once");
      die_of(signal);
    }
    interrupted_ = true;
    first_signal = signal;
    say(log_level::info, "[rpc_parallel] ",
        name + ": finishing the work in flight (send it again to exit at once)");
    // Copied: a listener may go while the others are told.
    auto told = listeners();
    for (auto& listener : told) listener(signal);
    wait();
  });
}

int interrupting_signal() noexcept { return first_signal; }

interruption_listener::interruption_listener(std::function<void(int)> on_interrupt)
    : self_(listeners().insert(listeners().end(), std::move(on_interrupt))) {}

interruption_listener::~interruption_listener() { listeners().erase(self_); }

}  // namespace rpc_parallel::detail
