// The master's side of joins: workers started by something else (srun, a batch system, a
// Kubernetes Job, a user) that connect with the secret and wait here until a spawn takes one.
#pragma once

#include "rpc_parallel/detail/launcher.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/detail/worker_config.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

/// A worker that joined, authenticated, and waits for its configuration on `link`.
struct joiner {
  std::shared_ptr<transport> link;
  std::string host;  ///< Its address as this process sees it.
  join_request request;
};

/// The joined workers of one master not yet taken, in arrival order. One executor.
class join_queue {
 public:
  explicit join_queue(boost::asio::any_io_executor executor) : changed_(std::move(executor)) {}

  void push(joiner j);
  /// The first joiner that may serve `type` (its request names no type, or that one), waiting
  /// for one. Throws `rpc_error` (disconnected) once the queue is closed.
  boost::asio::awaitable<joiner> take(std::string type);
  std::size_t waiting() const noexcept { return waiting_.size(); }
  /// Waits until `count` joiners wait, the queue closes or `until` passes: whether they do.
  boost::asio::awaitable<bool> await_waiting(std::size_t count,
                                             std::chrono::steady_clock::time_point until);
  /// Closes the links of those still waiting (they exit) and fails the takers.
  void close() noexcept;
  bool closed() const noexcept { return closed_; }
  /// A file to remove at `close` (the rendezvous file, which names a master no longer there).
  void remove_on_close(std::string path) { files_.push_back(std::move(path)); }

 private:
  std::deque<joiner> waiting_;
  std::vector<std::string> files_;
  wakeup changed_;
  bool closed_ = false;
};

/// What `joins::how()` is: a spawn with it takes the next joiner of `queue` instead of starting
/// a process (spawn.cpp), so pools and map-reduce fill slots with joined workers.
class join_launcher final : public launcher {
 public:
  explicit join_launcher(std::shared_ptr<join_queue> queue) : queue_(std::move(queue)) {}
  join_queue* joins() const override { return queue_.get(); }
  boost::asio::awaitable<prepared_launch> prepare(std::uint16_t, bool) const override;
  launched launch(const launch_request&, prepared_launch) const override;
  std::string where() const override { return "a joined process"; }
  std::string host() const override { return "joined"; }
  bool forwards_output_by_default() const override { return false; }
  bool carries_output() const override { return false; }
  bool keeps_worker_in_foreground() const override { return true; }

 private:
  std::shared_ptr<join_queue> queue_;
};

}  // namespace rpc_parallel::detail
