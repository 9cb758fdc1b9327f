// The signal handler only records return addresses (glibc's backtrace, loaded beforehand so that
// it does not allocate there); names are looked up afterwards on the asking thread, as the
// death notes do (Boost.Stacktrace over libbacktrace).
#define BOOST_STACKTRACE_LINK
#include "rpc_parallel/detail/thread_stacks.hpp"

#include <boost/stacktrace.hpp>

#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace rpc_parallel::detail {
namespace {

constexpr int max_frames = 64;
void* frames[max_frames];
std::atomic<int> frame_count{0};
int taken_pipe[2] = {-1, -1};  // the handler writes a byte once `frames` holds its stack
std::mutex one_sample;         // callers of stack_of_thread, one at a time

void on_stack_signal(int, siginfo_t*, void*) {
  int saved = errno;
  frame_count.store(::backtrace(frames, max_frames), std::memory_order_release);
  char done = 1;
  [[maybe_unused]] auto written = ::write(taken_pipe[1], &done, 1);
  errno = saved;
}

// Empties the pipe of a late answer to an earlier request that timed out.
void drain() {
  char bytes[16];
  while (::read(taken_pipe[0], bytes, sizeof bytes) > 0) {
  }
}

std::vector<std::string> symbolise(void* const* addresses, int count, int skip) {
  std::vector<std::string> lines;
  for (int i = skip; i < count; ++i) {
    auto address = reinterpret_cast<std::uintptr_t>(addresses[i]);
    // A return address is looked up one byte back: it may already be the next function's.
    boost::stacktrace::frame frame(reinterpret_cast<boost::stacktrace::frame::native_frame_ptr_t>(
        address > 0 ? address - 1 : address));
    std::string name = frame.name();
    if (name.empty()) name = "?? at " + boost::stacktrace::frame(addresses[i]).name();
    if (name.size() > 240) name = name.substr(0, 237) + "...";
    // Appended, not `"#" + ... + name`: g++ 12 sees a false overlap there (-Wrestrict).
    std::string line = "#";
    line += std::to_string(lines.size());
    line += ' ';
    line += name;
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

int stack_signal() noexcept { return SIGRTMAX - 2; }

void install_stack_signal() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* warm[2];
    ::backtrace(warm, 2);  // loads the unwinder now, not inside the handler
    struct sigaction current {};
    if (::sigaction(stack_signal(), nullptr, &current) != 0) return;
    if (current.sa_handler != SIG_DFL) return;  // the app's: leave it
    if (::pipe2(taken_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
    struct sigaction action {};
    action.sa_sigaction = on_stack_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    ::sigaction(stack_signal(), &action, nullptr);
  });
}

std::vector<std::string> stack_of_thread(pid_t tid, std::chrono::milliseconds timeout) {
  std::lock_guard lock(one_sample);
  struct sigaction current {};
  ::sigaction(stack_signal(), nullptr, &current);
  if (!(current.sa_flags & SA_SIGINFO) || current.sa_sigaction != on_stack_signal ||
      taken_pipe[0] < 0)
    return {"(no stack: signal " + std::to_string(stack_signal()) +
            " has a handler of the app's, so the framework cannot ask threads for theirs)"};
  drain();
  if (::syscall(SYS_tgkill, ::getpid(), tid, stack_signal()) != 0)
    return {"(no stack: thread " + std::to_string(tid) + " is gone)"};
  pollfd wait{taken_pipe[0], POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&wait, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0)
    return {"(no stack: thread " + std::to_string(tid) + " did not take signal " +
            std::to_string(stack_signal()) + " within " + std::to_string(timeout.count()) +
            " ms; it blocks that signal)"};
  drain();
  // The handler's own frame and the signal trampoline come first.
  return symbolise(frames, frame_count.load(std::memory_order_acquire), 2);
}

std::vector<std::string> stack_here() {
  void* here[max_frames];
  int count = ::backtrace(here, max_frames);
  return symbolise(here, count, 1);
}

}  // namespace rpc_parallel::detail
