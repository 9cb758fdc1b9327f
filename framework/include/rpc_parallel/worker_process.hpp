// A worker started by spawn_in_foreground: its pid, pipes and exit status.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/readable_pipe.hpp>

#include <sys/types.h>
#include <string>

namespace rpc_parallel {

/// A child process owned by its spawner. Move-only. Read its pipes and `wait` for it; destroying
/// it before `wait` kills (SIGKILL) and reaps it, so it never leaves a zombie.
class worker_process {
 public:
  worker_process(boost::asio::any_io_executor executor, pid_t pid, int stdout_fd, int stderr_fd);
  worker_process(worker_process&& other) noexcept;
  worker_process& operator=(worker_process&&) = delete;
  ~worker_process();

  pid_t pid() const noexcept { return pid_; }
  boost::asio::readable_pipe& stdout_pipe() noexcept { return stdout_; }
  boost::asio::readable_pipe& stderr_pipe() noexcept { return stderr_; }

  /// Everything the child writes to stdout (or stderr) until it closes it.
  boost::asio::awaitable<std::string> read_stdout();
  boost::asio::awaitable<std::string> read_stderr();

  /// Waits for the child to exit and reaps it; returns its exit code, or 128 + signal number.
  boost::asio::awaitable<int> wait();

 private:
  pid_t pid_;
  bool reaped_ = false;
  boost::asio::readable_pipe stdout_;
  boost::asio::readable_pipe stderr_;
};

}  // namespace rpc_parallel
