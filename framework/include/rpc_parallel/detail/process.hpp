// Starting this same binary again, and awaiting a child's exit without blocking.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <sys/types.h>
#include <string>
#include <utility>
#include <vector>

namespace rpc_parallel::detail {

struct launched {
  pid_t pid = -1;
  int stdin_fd = -1;   ///< Write end of the child's stdin.
  int stdout_fd = -1;  ///< Read end of the child's stdout (when piped; else -1).
  int stderr_fd = -1;  ///< Read end of the child's stderr.
};

/// posix_spawn of this binary through `/proc/<this pid>/exe` (so a renamed or deleted binary
/// still starts) with `argv` and this process's environment plus `env` and the worker marker.
/// With a `wrapper` (program on PATH and arguments), that runs instead, given the binary's path
/// and `argv` after `argv[0]`. Never forks this process. Throws `rpc_error` naming what failed.
launched launch_self(const std::vector<std::string>& argv,
                     const std::vector<std::pair<std::string, std::string>>& env, bool pipe_stdout,
                     const std::vector<std::string>& wrapper);

/// posix_spawn (posix_spawnp with `search_path`) of `program` with stdin, stderr and (when
/// `pipe_stdout`) stdout as pipes, else stdout on /dev/null; descriptors above 2 are not
/// inherited. Throws `rpc_error`.
launched spawn_process(const std::string& program, bool search_path, std::vector<std::string> args,
                       std::vector<std::string> environment, bool pipe_stdout);

/// Throws `rpc_error` unless `name` can be a worker's environment variable (non-empty, no '=',
/// not the worker marker).
void check_env_name(const std::string& name);

/// This process's environment plus `extra` and the worker marker. Throws `rpc_error` on a
/// variable name that is empty, has '=', or is the marker.
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra);

/// This process's environment, unchanged.
std::vector<std::string> this_environment();

/// Waits for child `pid` to exit, reaps it, and returns its wait status.
boost::asio::awaitable<int> wait_exit(pid_t pid);

/// "exited with status 3" / "killed by signal 9 (Killed)".
std::string describe_status(int status);

}  // namespace rpc_parallel::detail
