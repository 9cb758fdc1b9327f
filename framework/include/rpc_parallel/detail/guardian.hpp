// The guardian: one framework thread per process that keeps its connections alive, and its
// liveness rules in force, while user code holds the user thread.
#pragma once

#include "rpc_parallel/detail/frame_reader.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace rpc_parallel::detail {

class listener;

/// Threads of a process:
/// - the **user thread** runs the user's code (master_main, implementations, init functions,
///   sinks) and the framework's upper layers (calls, streams, dispatch): everything on
///   `user_executor`;
/// - the **guardian thread** runs only framework code: it accepts and authenticates every
///   incoming connection (so a busy worker still takes connections), and it watches the user
///   thread. When that thread has not come back to its event loop for `stall_after` (a plain
///   function computing, a blocking syscall, a long synchronous step), the guardian reads every
///   watched connection until it does (so no peer sees a closed window and declares it dead),
///   and ends the process when a connection marked `exit_at_end` ends (its master died) or a
///   `shutdown` frame arrives on one marked `exit_at_shutdown`.
/// The guardian never runs user code and never writes to a connection after its handshake.
/// What the guardian does by itself for a watched connection while the user thread stalls.
struct while_stalled {
  bool exit_at_end = false;       ///< The connection's end ends the process (status 0).
  bool exit_at_shutdown = false;  ///< A `shutdown` frame on it ends the process (status 0).
};

class guardian {
 public:
  /// Starts the thread; `heartbeat_timeout` sets how soon a stall is noticed (a twentieth of
  /// it, between 5 and 50 ms, and twice that to call it a stall).
  guardian(boost::asio::any_io_executor user_executor, std::chrono::milliseconds heartbeat_timeout);
  /// Stops and joins the thread. Call on the user thread.
  ~guardian();
  guardian(const guardian&) = delete;
  guardian& operator=(const guardian&) = delete;

  /// The guardian thread's executor: for acceptors and handshakes only.
  boost::asio::any_io_executor executor() noexcept { return io_.get_executor(); }
  const boost::asio::any_io_executor& user_executor() const noexcept { return user_; }

  /// Reads `input` whenever the user thread stalls, until `input` is closed. Thread-safe.
  void watch(std::shared_ptr<frame_reader> input, while_stalled rules = {});

  /// Keeps track of a listener whose acceptor lives on this thread: before the thread stops,
  /// the acceptor is closed and destroyed there (the listener itself may outlive us). Call on
  /// the user thread.
  void track(std::weak_ptr<listener> l);

 private:
  struct watched {
    std::shared_ptr<frame_reader> input;
    while_stalled rules;
    bool in_episode = false;  // guardian thread only
  };
  struct user_thread_ping {
    std::atomic<bool> outstanding{false};
    std::chrono::steady_clock::time_point sent;  // guardian thread only
  };

  boost::asio::awaitable<void> watch_user_thread();
  boost::asio::awaitable<void> rescue_while_stalled();
  bool user_thread_stalled() const;
  void send_ping();
  void handle(watched& w, std::uint32_t events);
  std::vector<std::shared_ptr<watched>> current_watches();

  boost::asio::any_io_executor user_;
  std::chrono::milliseconds tick_;
  std::chrono::milliseconds stall_after_;
  std::shared_ptr<user_thread_ping> ping_;
  boost::asio::io_context io_{1};
  std::mutex watched_mutex_;
  std::vector<std::shared_ptr<watched>> watched_;
  std::vector<std::weak_ptr<listener>> listeners_;  // user thread only
  std::thread thread_;
};

/// Ends this process now with `code`, from any thread: flushes stdout and stderr unless another
/// thread holds them, then `_exit`s (no destructors: other threads may be in user code).
[[noreturn]] void exit_process_now(int code) noexcept;

}  // namespace rpc_parallel::detail
