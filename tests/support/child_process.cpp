#include "support/child_process.hpp"

#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tests {

child launch(std::vector<std::string> argv, bool with_stderr) {
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  if (with_stderr) posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<char*> pointers;
  for (auto& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  pid_t pid = -1;
  BOOST_REQUIRE(
      ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, pointers.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  return {pid, out[0]};
}

child launch(const std::string& program, const std::string& scenario, bool with_stderr) {
  return launch({program, "--scenario", scenario}, with_stderr);
}

std::vector<std::string> read_lines_until(int fd, const std::string& last,
                                          std::chrono::seconds deadline) {
  std::vector<std::string> lines;
  std::string pending;
  auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[512];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      lines.push_back(pending.substr(0, nl));
      pending.erase(0, nl + 1);
      if (lines.back() == last) return lines;
    }
  }
  return lines;
}

int reap_within_status(pid_t pid, std::chrono::milliseconds deadline) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return -1;
  pollfd p{fd, POLLIN, 0};
  bool exited = ::poll(&p, 1, static_cast<int>(deadline.count())) == 1;
  ::close(fd);
  if (!exited) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool reap_within(pid_t pid, std::chrono::milliseconds deadline) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  bool exited = ::poll(&p, 1, static_cast<int>(deadline.count())) == 1;
  ::close(fd);
  if (exited) ::waitpid(pid, nullptr, 0);
  return exited;
}

}  // namespace tests
