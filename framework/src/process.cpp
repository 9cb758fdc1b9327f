#include "rpc_parallel/detail/process.hpp"

#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

extern char** environ;

namespace rpc_parallel::detail {
namespace asio = boost::asio;

namespace {

// Both ends of a pipe, closed unless released: a spawn that fails half-way (a later pipe2 at
// the descriptor limit, or posix_spawn itself) leaves no descriptor behind.
class pipe_pair {
 public:
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw rpc_error(
          {error_kind::failed, std::string("pipe2 for a worker's stdio: ") + std::strerror(errno) +
                                   (errno == EMFILE || errno == ENFILE
                                        ? " (too many open files: raise `ulimit -n` or spawn fewer "
                                          "workers at once)"
                                        : "")});
    read_ = fds[0];
    write_ = fds[1];
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  ~pipe_pair() {
    for (int fd : {read_, write_})
      if (fd >= 0) ::close(fd);
  }

  int read() const noexcept { return read_; }
  int write() const noexcept { return write_; }
  /// Gives the read (or write) end to the caller; the destructor leaves it open.
  int release_read() noexcept { return std::exchange(read_, -1); }
  int release_write() noexcept { return std::exchange(write_, -1); }

 private:
  int read_ = -1;
  int write_ = -1;
};

}  // namespace

void check_env_name(const std::string& name) {
  RPCP_REQUIRE(name != worker_env_marker && !name.empty() && name.find('=') == std::string::npos,
               "spawn option env: \"", name,
               "\" is not a usable variable name (empty, has '=', or ",
               "conflicts with rpc_parallel machinery)");
}

std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> result;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool replaced = key == worker_env_marker;
    for (auto& [k, v] : extra) replaced = replaced || key == k;
    if (!replaced) result.emplace_back(entry);
  }
  for (auto& [k, v] : extra) {
    check_env_name(k);
    result.push_back(k + "=" + v);
  }
  result.push_back(std::string(worker_env_marker) + "=1");
  return result;
}

namespace {

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (auto& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

}  // namespace

launched spawn_process(const std::string& program, bool search_path, std::vector<std::string> args,
                       std::vector<std::string> environment, bool pipe_stdout) {
  auto argv_ptrs = pointers(args);
  auto env_ptrs = pointers(environment);
  pipe_pair in, err;
  std::optional<pipe_pair> out;
  if (pipe_stdout) out.emplace();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read(), 0);
  if (out)
    posix_spawn_file_actions_adddup2(&actions, out->write(), 1);
  else
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err.write(), 2);
  // Asio opens sockets without close-on-exec: without this a worker would hold this process's
  // links and listeners, and keep other workers from seeing this process die.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = search_path ? ::posix_spawnp(&pid, program.c_str(), &actions, &attributes,
                                        argv_ptrs.data(), env_ptrs.data())
                       : ::posix_spawn(&pid, program.c_str(), &actions, &attributes,
                                       argv_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0)
    throw rpc_error({error_kind::failed, "posix_spawn of " + program + ": " + std::strerror(rc) +
                                             (search_path ? " (is it on PATH?)" : "")});
  // The child's ends close with the pairs; ours go to the caller.
  return {pid, in.release_write(), out ? out->release_read() : -1, err.release_read()};
}

std::vector<std::string> this_environment() {
  std::vector<std::string> result;
  for (char** e = environ; *e; ++e) result.emplace_back(*e);
  return result;
}

launched launch_self(const std::vector<std::string>& argv,
                     const std::vector<std::pair<std::string, std::string>>& env, bool pipe_stdout,
                     const std::vector<std::string>& wrapper) {
  // /proc/<pid>/exe rather than /proc/self/exe: a wrapper must be able to exec it too.
  std::string self = "/proc/" + std::to_string(::getpid()) + "/exe";
  std::vector<std::string> args = wrapper;
  if (!wrapper.empty()) args.push_back(self);
  args.insert(args.end(), argv.begin() + (wrapper.empty() ? 0 : 1), argv.end());
  std::string program = wrapper.empty() ? self : wrapper.front();
  return spawn_process(program, !wrapper.empty(), std::move(args), child_environment(env),
                       pipe_stdout);
}

asio::awaitable<int> wait_exit(pid_t pid) {
  int status = 0;
  // glibc 2.36 declares pidfd_open without C linkage for C++: call the system call directly.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0 && errno != EMFILE && errno != ENFILE)
    throw rpc_error({error_kind::failed, std::string("pidfd_open of child ") + std::to_string(pid) +
                                             ": " + std::strerror(errno) +
                                             " (needs Linux 5.3 or later)"});
  auto executor = co_await asio::this_coro::executor;
  if (fd < 0) {
    // Out of descriptors: look every few milliseconds instead, so that the child is still
    // reaped (a spawn failing at the descriptor limit must not leave zombies).
    asio::steady_timer poll(executor);
    for (;;) {
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid || (done < 0 && errno != EINTR)) co_return status;
      poll.expires_after(std::chrono::milliseconds(5));
      co_await poll.async_wait(asio::use_awaitable);
    }
  }
  asio::posix::stream_descriptor descriptor(executor, fd);
  co_await descriptor.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  co_return status;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "ended with wait status " + std::to_string(status);
}

}  // namespace rpc_parallel::detail
