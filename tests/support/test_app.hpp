// The app every test binary uses, and helpers to run test bodies with deadlines.
#pragma once

#include <rpc_parallel/app.hpp>
#include <rpc_parallel/error.hpp>
#include <rpc_parallel/rpc_settings.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tests {

/// The app with every test worker type registered.
const rpc_parallel::app& app();

/// Runs a coroutine test body with fresh master state; fails if it takes longer than `deadline`.
void run(std::function<boost::asio::awaitable<void>()> body,
         std::chrono::seconds deadline = std::chrono::seconds(60),
         rpc_parallel::rpc_settings settings = {});

/// 'Z' for a zombie, 0 when `pid` does not exist, else its state letter from /proc.
char process_state(pid_t pid);
/// Children of this process (from its main thread's list).
std::vector<pid_t> children();
/// Children of this process that are zombies.
std::vector<pid_t> zombie_children();
/// Waits until `pid` has exited (gone, or a zombie) or `deadline` passes; true if it exited.
bool wait_until_exited(pid_t pid, std::chrono::milliseconds deadline);
/// Live (non-zombie) workers spawned by this process under `name`, found by their argv.
std::vector<pid_t> live_workers_named(const std::string& name);
/// Waits until no live worker of this process is named `name`; true if none is left in time.
bool wait_until_no_worker_named(const std::string& name, std::chrono::milliseconds deadline);
/// Path of the running test binary.
std::string self_path();
/// The repository: $RPCP_SOURCE_DIR, or found up from this binary's path.
std::string repository_dir();
/// What `command` prints (run by sh), without the final newline.
std::string output_of(const std::string& command);

/// The reports a spawn's on_failure receives (`handler()` is the callback), and a wait for the
/// first of them.
class failure_reports {
 public:
  explicit failure_reports(boost::asio::any_io_executor executor);
  std::function<void(const rpc_parallel::error&)> handler() const;
  /// Returns once a report has come, or `limit` has passed.
  boost::asio::awaitable<void> first(std::chrono::milliseconds limit) const;
  const std::vector<std::string>& all() const { return state_->reports; }

 private:
  struct state {
    std::vector<std::string> reports;
    boost::asio::steady_timer reported;
  };
  std::shared_ptr<state> state_;
};

}  // namespace tests
