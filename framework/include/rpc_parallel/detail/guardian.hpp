// The guardian: one framework thread per process that accepts connections and keeps the
// liveness rules in force, whatever user code is doing on the user thread.
#pragma once

#include "rpc_parallel/detail/socket_watch.hpp"
#include "rpc_parallel/rpc_settings.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace rpc_parallel::detail {

class listener;

/// Threads of a process:
/// - the **user thread** runs the user's code (master_main, implementations, init functions,
///   sinks) and the framework's upper layers (calls, streams, dispatch, reading and writing
///   frames): everything on `user_executor`;
/// - the **guardian thread** runs framework code only, and none of it waits for the user
///   thread: it accepts and authenticates every incoming connection (so a busy worker still
///   takes connections); every `heartbeat_interval` it asks the kernel (TCP_INFO) whether each
///   watched connection's peer still acknowledges, and declares dead one whose data or window
///   probes have had no answer for `heartbeat_timeout` (a peer that only stops reading, because
///   it is busy, still answers: it is never declared dead); and it ends the process when a
///   connection marked `exit_at_end` ends (its master died) and the user thread has not done so
///   itself within half the heartbeat timeout.
/// The guardian never runs user code and never reads or writes a watched connection.
class guardian {
 public:
  guardian(boost::asio::any_io_executor user_executor, const rpc_settings& settings);
  /// Stops and joins the thread. Call on the user thread.
  ~guardian();
  guardian(const guardian&) = delete;
  guardian& operator=(const guardian&) = delete;

  /// The guardian thread's executor: for acceptors and handshakes only.
  boost::asio::any_io_executor executor() noexcept { return io_.get_executor(); }
  const boost::asio::any_io_executor& user_executor() const noexcept { return user_; }

  /// Watches `w` until it is closed. `exit_at_end`: the connection's end (closed by the peer,
  /// broken, or declared dead) ends this process with status 0. Thread-safe.
  void watch(std::shared_ptr<socket_watch> w, bool exit_at_end = false);

  /// Keeps track of a listener whose acceptor lives on this thread: before the thread stops,
  /// the acceptor is closed and destroyed there (the listener itself may outlive us). Call on
  /// the user thread.
  void track(std::weak_ptr<listener> l);

 private:
  struct watched {
    std::shared_ptr<socket_watch> socket;
    bool exit_at_end = false;
    int quiet_sweeps = 0;  ///< Consecutive sweeps that found its peer not answering.
  };

  boost::asio::awaitable<void> sweep_forever();
  boost::asio::awaitable<void> watch_links();
  boost::asio::awaitable<void> exit_unless_done_first();
  void sweep();

  boost::asio::any_io_executor user_;
  rpc_settings settings_;
  boost::asio::io_context io_{1};
  int links_epoll_ = -1;          ///< Ends of exit_at_end connections (owned by watch_links).
  std::vector<watched> watched_;  // guardian thread only
  bool exiting_ = false;          // guardian thread only
  std::vector<std::weak_ptr<listener>> listeners_;  // user thread only
  std::thread thread_;
};

/// Ends this process now with `code`, from any thread: flushes stdout and stderr unless another
/// thread holds them, then `_exit`s (no destructors: other threads may be in user code).
[[noreturn]] void exit_process_now(int code) noexcept;

}  // namespace rpc_parallel::detail
