#include "rpc_parallel/worker_process.hpp"

#include "rpc_parallel/detail/process.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <sys/wait.h>

namespace rpc_parallel {
namespace asio = boost::asio;

namespace {
asio::awaitable<std::string> read_to_end(asio::readable_pipe& pipe) {
  std::string text;
  boost::system::error_code ec;
  co_await asio::async_read(pipe, asio::dynamic_buffer(text),
                            asio::redirect_error(asio::use_awaitable, ec));
  co_return text;  // ends at EOF (or when the pipe was never open)
}
}  // namespace

worker_process::worker_process(asio::any_io_executor executor, pid_t pid, int stdout_fd,
                               int stderr_fd)
    : pid_(pid), stdout_(executor, stdout_fd), stderr_(executor, stderr_fd) {}

worker_process::worker_process(worker_process&& other) noexcept
    : pid_(other.pid_),
      reaped_(other.reaped_),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)) {
  other.reaped_ = true;
}

worker_process::~worker_process() {
  if (reaped_) return;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
}

asio::awaitable<std::string> worker_process::read_stdout() {
  co_return co_await read_to_end(stdout_);
}
asio::awaitable<std::string> worker_process::read_stderr() {
  co_return co_await read_to_end(stderr_);
}

asio::awaitable<int> worker_process::wait() {
  int status = co_await detail::wait_exit(pid_);
  reaped_ = true;
  co_return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace rpc_parallel
