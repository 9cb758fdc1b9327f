#include "rpc_parallel/detail/death_report.hpp"

#include "rpc_parallel/detail/death_note.hpp"
#include "rpc_parallel/detail/launcher.hpp"
#include "rpc_parallel/detail/output_relay.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

namespace {

// Waits up to `limit` for `pid` to exit: its descriptors close (which ended its connection and
// its stderr) a moment before it becomes a zombie.
asio::awaitable<bool> exits_within(pid_t pid, std::chrono::milliseconds limit) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) co_return errno == ESRCH;
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor process(executor, fd);
  asio::steady_timer timer(executor, limit);
  using namespace asio::experimental::awaitable_operators;
  auto first = co_await (
      process.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable) ||
      timer.async_wait(asio::use_awaitable));
  co_return first.index() == 0;
}

// The cause in the tail's death note, or empty; the note's own lines (its trace) stay in the tail.
std::string cause_in(const std::string& tail) {
  auto at = tail.find(death_note_marker);
  if (at == std::string::npos) return {};
  auto start = at + death_note_marker.size();
  return tail.substr(start, tail.find('\n', start) - start);
}

std::string lifetime(std::chrono::steady_clock::duration lived) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(lived).count();
  std::ostringstream text;
  if (ms < 10'000)
    text << ms << " ms";
  else
    text << ms / 1000 << " s";
  return text.str();
}

}  // namespace

std::uint64_t oom_kill_count() {
  std::ifstream in("/proc/vmstat");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value)
    if (key == "oom_kill") return value;
  return 0;
}

asio::awaitable<std::string> death_report(std::shared_ptr<const worker_record> record,
                                          std::vector<std::string> in_flight) {
  using namespace asio::experimental::awaitable_operators;
  if (record->stderr_tail) {
    // Its stderr ends when it does, unless a child of its own keeps the pipe: wait 1 s at most.
    asio::steady_timer limit(co_await asio::this_coro::executor, std::chrono::seconds(1));
    co_await (record->stderr_tail->finished() || limit.async_wait(asio::use_awaitable));
  }
  std::string tail = record->stderr_tail ? record->stderr_tail->tail() : std::string();
  std::string cause = cause_in(tail);
  if (cause.empty() && record->via) cause = record->via->cause_of_death(tail);
  if (!record->killed_because.empty()) {
    // Killed on purpose: a remote one exits at its link's close, cleanly as it sees it.
    cause = "killed by its spawner: " + record->killed_because;
  }
  if (cause.empty() && tail.find(clean_exit_marker) != std::string::npos) co_return std::string();
  if (cause.empty() && !record->stderr_tail) {
    if (record->local && !co_await exits_within(record->pid, std::chrono::milliseconds(500)))
      co_return std::string();
    cause = "it exited or was killed (its stderr is redirected: a death note, if any, is there)";
  } else if (cause.empty()) {
    if (record->local && !co_await exits_within(record->pid, std::chrono::milliseconds(500)))
      co_return std::string();
    std::uint64_t cgroup_kills = record->memory ? record->memory->oom_kills() : 0;
    if (cgroup_kills > record->cgroup_oom_kills_at_start) {
      std::string limit = record->memory->limit();
      cause = "killed by SIGKILL: out of memory (the out-of-memory killer of its memory cgroup " +
              record->memory->directory() + (limit.empty() ? "" : ", limit " + limit + ",") +
              " killed " + std::to_string(cgroup_kills - record->cgroup_oom_kills_at_start) +
              " process(es) in it since it started: give the cgroup more memory, or the worker "
              "less at once)";
    } else {
      cause = record->local
                  ? "killed by SIGKILL, or it called _exit() (it left no death note, which a "
                    "worker writes for every other death)"
                  : "killed by SIGKILL, or it called _exit(), or its host or ssh session went "
                    "away (it left no death note, which a worker writes for every other death)";
      std::uint64_t kills = record->local ? oom_kill_count() : 0;
      if (kills > record->oom_kills_at_start)
        cause += "; the out-of-memory killer killed " +
                 std::to_string(kills - record->oom_kills_at_start) +
                 " process(es) on this host since it started (/proc/vmstat oom_kill): likely "
                 "out of memory";
    }
  }
  std::string report = "the worker process " + std::to_string(record->pid) + " died: " + cause +
                       "; it had lived " +
                       lifetime(std::chrono::steady_clock::now() - record->started);
  if (!in_flight.empty()) {
    report += "; calls in flight:";
    for (const auto& name : in_flight) report += " " + name;
  }
  if (!tail.empty()) report += "; the last lines of its stderr:\n" + tail;
  co_return report;
}

}  // namespace rpc_parallel::detail
