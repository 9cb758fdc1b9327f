// The master's status endpoint: a Unix socket only its user may open, on which
// `APP --rpc-status` and `APP --rpc-stacks` from another terminal ask what the app is doing,
// and the HTTP endpoint its metrics are scraped from.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace rpc_parallel::detail {

class node;
struct status_state;

/// Where this user's masters put their endpoints (made mode 0700 if missing; refused when
/// others may enter it): $RPC_PARALLEL_RUNTIME_DIR, else $XDG_RUNTIME_DIR/rpc_parallel, else
/// /tmp/rpc_parallel-UID.
std::string status_directory();

/// The master's window for other programs, on a thread of its own (never the user thread, so
/// a master whose user code is busy still answers), once asked to serve:
/// - `serve_status`: DIR/PID.sock. A connection of this user's (SO_PEERCRED) writes "status\n"
///   or "stacks\n" and reads one JSON document: this process's report under "master", and under
///   "workers" each worker it spawned with its own report (asked concurrently over the
///   inspection connection; one that cannot answer in time says why), then those that ended.
/// - `serve_metrics`: HTTP on `address:port`, where GET /metrics answers the app's figures in
///   Prometheus' text format (every process's, asked the same way; a worker that has ended or
///   cannot answer counts with the last figures it gave).
class status_endpoint {
 public:
  explicit status_endpoint(node& self);
  ~status_endpoint();
  status_endpoint(const status_endpoint&) = delete;
  status_endpoint& operator=(const status_endpoint&) = delete;

  /// Throws when the socket cannot be made (the directory's checks, in status_directory).
  void serve_status();
  /// Throws, saying what to change, when `address:port` cannot be listened on; port 0 takes a
  /// free one. Returns the URL it serves.
  std::string serve_metrics(const std::string& address, int port);
  /// The app's metrics now (as GET /metrics answers), or throws after `timeout`.
  std::string metrics_now(std::chrono::milliseconds timeout);

  const std::string& path() const noexcept { return path_; }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> busy_;
  std::string path_;
  std::shared_ptr<status_state> server_;
  std::thread thread_;
};

}  // namespace rpc_parallel::detail
