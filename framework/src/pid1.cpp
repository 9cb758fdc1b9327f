#include "rpc_parallel/detail/pid1.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rpc_parallel::detail {
namespace {

[[noreturn]] void exit_as(int status) {
  std::_Exit(WIFEXITED(status)     ? WEXITSTATUS(status)
             : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                   : 1);
}

// PID 1 from here on: signals are only ever taken synchronously, by sigwaitinfo.
[[noreturn]] void serve_as_init(pid_t master, const sigset_t& all) {
  for (;;) {
    siginfo_t info;
    int signal = ::sigwaitinfo(&all, &info);
    if (signal < 0) continue;  // EINTR
    if (signal != SIGCHLD) {
      ::kill(master, signal);
      continue;
    }
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;)
      if (pid == master) exit_as(status);  // the kernel then ends the rest of the namespace
  }
}

}  // namespace

void become_init_if_pid1() {
  if (::getpid() != 1) return;
  // Blocked before the fork, so that no signal meant for the master is lost in between.
  sigset_t all, old;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &old);
  std::fflush(nullptr);  // or buffered output would be written by both processes
  pid_t master = ::fork();
  if (master < 0) {
    std::fprintf(stderr,
                 "rpc_parallel: this master is PID 1 and cannot fork an init (%s): exited "
                 "workers will stay zombies; run it under an init such as `docker run --init`\n",
                 std::strerror(errno));
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return;
  }
  if (master == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return;
  }
  serve_as_init(master, all);
}

}  // namespace rpc_parallel::detail
