// The server a spawning process runs for its workers: registration, init results, failures.
#pragma once

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

class join_queue;

struct worker_record;

class listener;
class node;

/// Shared with its coroutines (each holds a reference), so closing it while they are suspended
/// is safe; `close` ends them.
class master_server : public std::enable_shared_from_this<master_server> {
 public:
  struct registered {
    std::shared_ptr<transport> link;  ///< Stays open: the worker's heartbeat to this process.
    std::string host;                 ///< The worker's address as this process sees it.
    detail::registration registration;
  };

  /// Binds on all interfaces and an OS-chosen port and starts accepting.
  static std::shared_ptr<master_server> start(node& owner);
  /// Stops accepting and closes every link: workers with a heartbeat policy then exit.
  void close() noexcept;

  std::uint16_t port() const noexcept { return port_; }
  /// Its same-host socket's name (same_host.hpp), or empty.
  const std::string& same_host_name() const noexcept;
  /// Announce worker `id` before launching it, `forget` it once its spawn is over: a
  /// registration for an unknown id is refused and that worker told to exit.
  void expect(const std::string& id);
  void forget(const std::string& id);
  /// `forget` for a spawn that failed: a worker that registered anyway is told to exit.
  void abandon(const std::string& id);
  /// Waits for worker `id` to register (cancel it with a deadline); may be awaited again.
  boost::asio::awaitable<registered> await_registration(std::string id);
  /// Reads failure reports from a running worker's link until it closes; if it closes by the
  /// worker's death, `on_failure` gets the death report too (death_report.hpp).
  void watch(std::shared_ptr<transport> link, std::string worker_name,
             std::function<void(rpc_parallel::error)> on_failure,
             std::shared_ptr<const worker_record> record);
  /// From now on a `join` frame puts its worker in this queue (the same one each time) instead
  /// of being refused.
  std::shared_ptr<join_queue> open_joins();

 private:
  struct slot {
    std::optional<registered> value;
    boost::asio::steady_timer arrived;
  };
  boost::asio::awaitable<void> receive_registration(std::shared_ptr<transport> link,
                                                    std::string host);
  boost::asio::awaitable<void> receive_join(std::shared_ptr<transport> link, std::string host,
                                            std::string payload);
  boost::asio::awaitable<void> read_failures(std::shared_ptr<transport> link, std::string name,
                                             std::function<void(rpc_parallel::error)> on_failure,
                                             std::shared_ptr<const worker_record> record);

  explicit master_server(node& owner);

  boost::asio::any_io_executor executor_;
  rpc_settings settings_;
  std::shared_ptr<listener> listener_;
  bool closed_ = false;
  std::uint16_t port_ = 0;
  std::map<std::string, std::shared_ptr<slot>> pending_;
  std::vector<std::weak_ptr<transport>> links_;
  std::shared_ptr<join_queue> joins_;
};

}  // namespace rpc_parallel::detail
