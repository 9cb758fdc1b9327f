// The server a spawning process runs for its workers: registration, init results, failures.
#pragma once

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

class node;

class master_server {
 public:
  struct registered {
    std::shared_ptr<transport> link;  ///< Stays open: the worker's heartbeat to this process.
    std::string host;                 ///< The worker's address as this process sees it.
    detail::registration registration;
  };

  explicit master_server(node& owner);
  ~master_server();

  std::uint16_t port() const noexcept { return port_; }
  /// Announce worker `id` before launching it, `forget` it once its spawn is over: a
  /// registration for an unknown id is refused and that worker told to exit.
  void expect(const std::string& id);
  void forget(const std::string& id);
  /// `forget` for a spawn that failed: a worker that registered anyway is told to exit.
  void abandon(const std::string& id);
  /// Waits for worker `id` to register (cancel it with a deadline); may be awaited again.
  boost::asio::awaitable<registered> await_registration(std::string id);
  /// Reads failure reports from a running worker's link until it closes.
  void watch(std::shared_ptr<transport> link, std::string worker_name,
             std::function<void(rpc_parallel::error)> on_failure);

 private:
  struct slot {
    std::optional<registered> value;
    boost::asio::steady_timer arrived;
  };
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> handshake(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> read_failures(std::shared_ptr<transport> link, std::string name,
                                             std::function<void(rpc_parallel::error)> on_failure);

  node& owner_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::map<std::string, std::shared_ptr<slot>> pending_;
  std::vector<std::weak_ptr<transport>> links_;
};

}  // namespace rpc_parallel::detail
