// The spawn handshake, worker side (docs/protocol.md has the long form):
//   1. clear the environment marker and read the worker_config from stdin;
//   2. daemonised: fork, setsid, fork again; the first child waits to be released and then
//      exits 0, so the spawner learns the worker started (or why it did not, from stderr). In
//      the foreground (a worker_process, or a scheduler's step) it stays the launched process;
//   3. chdir, umask; bind the worker server; connect to the spawner's master server and
//      register (worker id, port);
//   4. release: point stdout/stderr at their redirections, let the first child exit;
//   5. run init_worker_state; report init_done (empty, or the error);
//   6. serve until the shutdown policy says to exit (under connection_closed the link itself is
//      then served as the owner connection).
#include "rpc_parallel/detail/worker_main.hpp"
#include "rpc_parallel/detail/log_lines.hpp"

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/death_note.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/detail/worker_runtime.hpp"
#include "rpc_parallel/detail/worker_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace rpc_parallel::detail {
namespace {

[[noreturn]] void die(const std::string& what) {
  say(log_level::error, "rpc_parallel worker: ", what);
  std::_Exit(2);
}

bool read_exactly(int fd, char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

worker_config read_config() {
  std::uint32_t size = 0;
  if (!read_exactly(0, reinterpret_cast<char*>(&size), 4))
    die("cannot read its configuration from stdin: this command is only for processes spawned "
        "by rpc_parallel, and nothing may read stdin before the worker role starts");
  std::string bytes(size, '\0');
  if (!read_exactly(0, bytes.data(), size)) die("its configuration on stdin is truncated");
  try {
    return decode<worker_config>(bytes, "worker configuration");
  } catch (const std::exception& e) {
    die(e.what());
  }
}

// Step 2. Returns (in the daemon) the write end of the release pipe; the first child never
// returns: it exits 0 once released, or 3 if the daemon died before that.
int daemonize() {
  int release[2];
  if (::pipe(release) != 0) die(std::string("pipe: ") + std::strerror(errno));
  pid_t middle = ::fork();
  if (middle < 0) die(std::string("fork: ") + std::strerror(errno));
  if (middle > 0) {
    ::close(release[1]);
    int status = 0;
    ::waitpid(middle, &status, 0);
    char byte = 0;
    bool released = read_exactly(release[0], &byte, 1);
    std::_Exit(released ? 0 : 3);
  }
  ::close(release[0]);
  ::setsid();
  pid_t daemon = ::fork();
  if (daemon < 0) die(std::string("fork: ") + std::strerror(errno));
  if (daemon > 0) std::_Exit(0);
  return release[1];
}

// The descriptor to put in place at release, or -1 to keep the pipe to the spawner.
int open_redirection(const fd_redirection& r) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  if (r.how() == fd_redirection::mode::to_spawner) return -1;
  if (r.how() != fd_redirection::mode::file_append &&
      r.how() != fd_redirection::mode::file_truncate)
    return ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  flags |= r.how() == fd_redirection::mode::file_append ? O_APPEND : O_TRUNC;
  int fd = ::open(r.path().c_str(), flags, 0644);
  if (fd < 0) die("cannot open redirect file \"" + r.path() + "\": " + std::strerror(errno));
  return fd;
}

}  // namespace

bool spawned_as_worker() noexcept { return std::getenv(worker_env_marker) != nullptr; }

int run_worker_role(const type_registry& types) {
  ::unsetenv(worker_env_marker);
  worker_config config = read_config();
  install_death_notes();
  int devnull = ::open("/dev/null", O_RDONLY);
  ::dup2(devnull, 0);
  ::close(devnull);
  int release_fd = config.daemonize ? daemonize() : -1;
  if (::chdir(config.cd.c_str()) != 0)
    die("cannot change directory to \"" + config.cd +
        "\" (spawn option cd): " + std::strerror(errno));
  if (config.umask >= 0) ::umask(static_cast<mode_t>(config.umask));
  auto type = types.find(config.type);
  if (type == types.end())
    die("worker type \"" + config.type +
        "\" is not registered in this binary: call "
        "app.add_worker<" +
        config.type + ">() in main before run");

  // Forwarded lines should reach the spawner as they are written, not when a buffer fills; and
  // a spawner gone (a closed pipe) must not kill the worker by SIGPIPE.
  if (config.redirect_stdout.how() == fd_redirection::mode::to_spawner)
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
  ::signal(SIGPIPE, SIG_IGN);
  // Opened before release so that a bad path is reported through the relayed stderr. (A
  // worker kept in the foreground of a scheduler's step redirects too; in a worker_process's
  // foreground both are to_spawner.)
  int out = open_redirection(config.redirect_stdout);
  int err = open_redirection(config.redirect_stderr);
  auto release = [release_fd, out, err] {
    std::fflush(stdout);
    std::fflush(stderr);
    for (auto [from, to] : {std::pair{out, 1}, std::pair{err, 2}}) {
      if (from < 0) continue;  // forwarded to the spawner: keep the pipe
      ::dup2(from, to);
      ::close(from);
    }
    if (release_fd < 0) return;
    char byte = 'R';
    (void)::write(release_fd, &byte, 1);
    ::close(release_fd);
  };
  return serve_as_worker(types, *type->second, std::move(config), std::move(release));
}

}  // namespace rpc_parallel::detail
