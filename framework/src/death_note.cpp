// The stack traces come from Boost.Stacktrace's libbacktrace library (function names from the
// symbol table, no debug information needed), linked by the framework's Jamfile.
#define BOOST_STACKTRACE_LINK
#include "rpc_parallel/detail/death_note.hpp"

#include <boost/stacktrace.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <sstream>

namespace rpc_parallel::detail {
namespace {

std::atomic<bool> clean_exit{false};
std::atomic<bool> noted{false};  // one note per death: abort() after terminate writes no second
std::atomic<int> leave_fd{-1};   // where the first SIGTERM asks the worker to leave, if anywhere
std::atomic<bool> leave_asked{false};
std::atomic<std::int64_t> leave_asker{0};
struct sigaction sigterm_action {};  // ours, when the death notes handle SIGTERM
bool sigterm_ours = false;

// Faults: noted whoever handled them before (a sanitizer's handler included).
constexpr int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
// Signals other processes send whose default action ends a process (kill(1), a scheduler's
// time limit, a terminal's hang-up): noted only while nothing else handles or ignores them (a
// profiler's SIGPROF, nohup's SIGHUP).
constexpr int sent_signals[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,   SIGUSR1, SIGUSR2,
                                SIGALRM, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF};

// Straight to fd 2 with write(2), unbuffered: stdio may be what broke. Async-signal-safe.
void write_bytes(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(2, data, size);
    if (n <= 0) return;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// A line built in a fixed buffer, without allocating: what a signal handler may do even when
// the signal interrupted malloc (a SIGTERM may land anywhere).
class fixed_line {
 public:
  fixed_line& operator<<(const char* text) {
    while (text && *text && size_ < sizeof text_ - 1) text_[size_++] = *text++;
    text_[size_] = 0;
    return *this;
  }
  fixed_line& operator<<(std::uint64_t n) {
    char digits[24];
    int count = 0;
    do {
      digits[count++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n > 0);
    while (count > 0 && size_ < sizeof text_ - 1) text_[size_++] = digits[--count];
    text_[size_] = 0;
    return *this;
  }
  const char* c_str() const noexcept { return text_; }
  void write() const { write_bytes(text_, size_); }

 private:
  char text_[512] = {};
  std::size_t size_ = 0;
};

// Frames from `skip` on (the note's own frames are left out), at most 24, each line cut at 240
// characters (template names run long). A return address is looked up one byte back: after a
// call to a noreturn function (abort) it already belongs to the next function.
std::string trace(std::size_t skip) {
  std::string text;
  std::size_t index = 0;
  for (const auto& frame : boost::stacktrace::stacktrace(skip, 24)) {
    auto address = reinterpret_cast<std::uintptr_t>(frame.address());
    boost::stacktrace::frame call(reinterpret_cast<boost::stacktrace::frame::native_frame_ptr_t>(
        address > 0 ? address - 1 : address));
    std::string line = "  #" + std::to_string(index++) + " " + call.name();
    if (call.name().empty()) line += "?? in " + frame.name();
    std::string file = call.source_file();
    if (!file.empty()) line += " at " + file + ":" + std::to_string(call.source_line());
    if (line.size() > 240) line = line.substr(0, 237) + "...";
    text += line + "\n";
  }
  return text;
}

// "; its peak RSS was 12.34 MiB" (getrusage: the kernel's high-water mark of its resident
// set). Async-signal-safe.
void add_peak_rss(fixed_line& line) {
  struct rusage usage {};
  if (::getrusage(RUSAGE_SELF, &usage) != 0 || usage.ru_maxrss <= 0) return;
  auto kib = static_cast<std::uint64_t>(usage.ru_maxrss);
  auto hundredths = kib * 100 / 1024 % 100;
  line << "; its peak RSS was " << kib / 1024 << "." << (hundredths < 10 ? "0" : "") << hundredths
       << " MiB";
}

void write_note(const std::string& cause, std::size_t skip) {
  if (noted.exchange(true)) return;
  fixed_line rss;
  add_peak_rss(rss);
  std::string note = std::string(death_note_marker) + cause + rss.c_str() + "\n" + trace(skip);
  write_bytes(note.data(), note.size());
}

// ", sent by process 1234 (bash)" when another process sent the signal (kill, sigqueue); not
// for abort() or raise(), whose trace shows where. open/read only: async-signal-safe.
void add_sender(fixed_line& line, const siginfo_t& info) {
  if (info.si_code != SI_USER && info.si_code != SI_QUEUE && info.si_code != SI_TKILL) return;
  if (info.si_pid == ::getpid()) return;
  auto pid = static_cast<std::uint64_t>(info.si_pid);
  line << ", sent by process " << pid;
  fixed_line path;
  path << "/proc/" << pid << "/comm";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char name[64] = {};
  ssize_t n = ::read(fd, name, sizeof name - 1);
  ::close(fd);
  if (n <= 0) return;
  if (name[n - 1] == '\n') name[n - 1] = 0;
  line << " (" << name << ")";
}

// Writes the note's first line (the cause, which the spawner reads) with async-signal-safe
// calls only, then the stack trace, which is not safe (symbolising allocates): should that
// deadlock on a lock the signal interrupted, an alarm ends the process 3 s later, with the
// cause already written.
void on_fatal_signal(int signal, siginfo_t* info, void*) {
  int fd = signal == SIGTERM ? leave_fd.exchange(-1) : -1;
  if (fd >= 0) {
    // Leave gracefully; the next SIGTERM is noted and fatal (SA_RESETHAND undid ours).
    bool sent = info->si_code == SI_USER || info->si_code == SI_QUEUE || info->si_code == SI_TKILL;
    std::int64_t sender = sent ? info->si_pid : 0;
    leave_asker = sender;
    leave_asked = true;
    ssize_t written = ::write(fd, &sender, sizeof sender);
    (void)written;
    ::sigaction(SIGTERM, &sigterm_action, nullptr);
    return;
  }
  if (!noted.exchange(true)) {
    fixed_line line;
    const char* abbrev = ::sigabbrev_np(signal);
    const char* text = ::sigdescr_np(signal);
    line << death_note_marker.data() << "killed by ";
    if (abbrev)
      line << "SIG" << abbrev;
    else
      line << "signal " << static_cast<std::uint64_t>(signal);
    if (text) line << " (" << text << ")";
    add_sender(line, *info);
    add_peak_rss(line);
    line << "\n";
    line.write();
    ::signal(SIGALRM, SIG_DFL);
    ::alarm(3);
    std::string frames = trace(2);
    write_bytes(frames.data(), frames.size());
  }
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

void on_terminate() {
  std::string what = "an uncaught exception";
  if (auto current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = "an uncaught exception: " + std::string(e.what());
    } catch (...) {
    }
  }
  write_note("std::terminate after " + what, 2);
  std::abort();
}

void on_process_exit(int status, void*) {
  if (clean_exit || noted) return;
  write_note("it called exit(" + std::to_string(status) + ")", 3);
}

}  // namespace

std::string signal_abbreviation(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(signal);
}

std::string signal_name(int signal) {
  const char* text = ::sigdescr_np(signal);
  std::string name = signal_abbreviation(signal);
  return text ? name + " (" + text + ")" : name;
}

void install_death_notes() {
  // A stack overflow is reported too: the handler runs on its own stack.
  static char alternate_stack[256 * 1024];  // symbolising needs room
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof alternate_stack;
  ::sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_sigaction = on_fatal_signal;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  ::sigemptyset(&action.sa_mask);
  for (int signal : fault_signals) ::sigaction(signal, &action, nullptr);
  for (int signal : sent_signals) {
    struct sigaction before {};
    if (::sigaction(signal, nullptr, &before) == 0 && !(before.sa_flags & SA_SIGINFO) &&
        before.sa_handler == SIG_DFL) {
      ::sigaction(signal, &action, nullptr);
      if (signal == SIGTERM) {
        sigterm_action = action;
        sigterm_ours = true;
      }
    }
  }
  std::set_terminate(on_terminate);
  ::on_exit(on_process_exit, nullptr);
}

void leave_on_first_sigterm(int fd) noexcept {
  if (sigterm_ours) leave_fd = fd;
}

bool leave_requested() noexcept { return leave_asked; }
std::int64_t leave_sender() noexcept { return leave_asker; }

void expect_clean_exit(std::string_view why, bool announce) noexcept {
  clean_exit = true;
  if (!announce) return;
  try {
    std::fflush(stderr);
    std::string line = std::string(clean_exit_marker) + std::string(why) + "\n";
    write_bytes(line.data(), line.size());
  } catch (...) {
  }
}

}  // namespace rpc_parallel::detail
