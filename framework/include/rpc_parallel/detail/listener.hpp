// A listening socket whose connections are accepted and authenticated on the guardian's thread.
#pragma once

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/guardian.hpp"
#include "rpc_parallel/detail/inspection.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/rpc_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace rpc_parallel::detail {

struct cancel_request;

/// So that a worker whose user code is busy still takes connections: they are accepted and
/// authenticated on the guardian's thread, watched by it from then on, and handed to the user
/// thread as transports. Shared with its coroutines; `close` ends them.
class listener : public std::enable_shared_from_this<listener> {
 public:
  struct hooks {
    /// On the user thread: an authenticated connection, and the peer's address.
    std::function<void(std::shared_ptr<transport>, std::string host)> on_connection;
    /// On the guardian's thread: a peer that failed the handshake (it has been dropped), its
    /// address, and what it failed.
    std::function<void(const std::string& peer, const std::string& why)> on_refused;
    /// On the guardian's thread: an authenticated cancel connection's request (busy_call.hpp).
    /// Without it, cancel connections are dropped.
    std::function<void(const cancel_request&)> on_cancel;
    /// On the guardian's thread: the report an inspect connection asks for (inspection.hpp).
    /// Without it, inspect connections are dropped.
    std::function<std::string(inspect_what)> on_inspect;
    /// The end of any of these connections ends the process (guardian.hpp).
    bool exit_at_end = false;
  };

  /// Binds on all interfaces and an OS-chosen port; accepts nothing until `start`. Transports
  /// are named `peer_prefix` + "ADDRESS:PORT" in errors. `g` must outlive the listener's use.
  static std::shared_ptr<listener> bind(guardian& g, const rpc_settings& settings,
                                        const secret& key, std::string peer_prefix);

  void start(hooks h);
  /// Stops accepting; connections already handed over are unaffected. Call on the user thread.
  void close() noexcept;
  /// For the guardian as it stops (on the user thread): closes and destroys the acceptor on the
  /// guardian's thread; `close` does nothing after this.
  void shut_down() noexcept;
  std::uint16_t port() const noexcept { return port_; }

 private:
  listener(guardian& g, const rpc_settings& settings, const secret& key, std::string peer_prefix);
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> handshake(boost::asio::ip::tcp::socket socket);
  /// Reads a cancel connection's one request and hands it to `on_cancel`.
  boost::asio::awaitable<void> deliver_cancel(boost::asio::ip::tcp::socket socket);

  guardian& guardian_;
  rpc_settings settings_;
  secret key_;
  std::string peer_prefix_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;  // guardian thread only, after bind
  std::uint16_t port_ = 0;
  std::atomic<bool> open_{true};
  bool guardian_stopping_ = false;  // user thread only
  hooks hooks_;
};

}  // namespace rpc_parallel::detail
