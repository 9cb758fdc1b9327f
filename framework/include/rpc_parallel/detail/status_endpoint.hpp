// The master's status endpoint: a Unix socket only its user may open, on which
// `APP --rpc-status` and `APP --rpc-stacks` from another terminal ask what the app is doing.
#pragma once

#include <boost/asio/io_context.hpp>

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

/// Serves DIR/PID.sock on a thread of its own while it lives (never the user thread, so a
/// master whose user code is busy still answers). A connection of this user's (SO_PEERCRED) writes
/// "status\n" or "stacks\n" and reads one JSON document: this process's report under "master", and
/// under "workers" each worker it spawned with its own report (asked concurrently over the
/// inspection connection; one that cannot answer in time says why), then those that ended and how.
class status_endpoint {
 public:
  explicit status_endpoint(node& self);
  ~status_endpoint();
  status_endpoint(const status_endpoint&) = delete;
  status_endpoint& operator=(const status_endpoint&) = delete;

  const std::string& path() const noexcept { return path_; }

 private:
  boost::asio::io_context io_{1};
  std::string path_;
  std::shared_ptr<status_state> server_;
  std::thread thread_;
};

}  // namespace rpc_parallel::detail
