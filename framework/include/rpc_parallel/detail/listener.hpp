// A listening socket whose connections are accepted and authenticated on the guardian's thread.
#pragma once

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/guardian.hpp"
#include "rpc_parallel/detail/inspection.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/rpc_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace rpc_parallel::detail {

struct cancel_request;

/// So that a worker whose user code is busy still takes connections: they are accepted and
/// authenticated on the guardian's thread, watched by it from then on, and handed to the user
/// thread as transports. Shared with its coroutines; `close` ends them.
class listener : public std::enable_shared_from_this<listener> {
 public:
  struct hooks {
    /// On the user thread: an authenticated connection, and the peer's address (empty when it
    /// came on the same-host socket).
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

  /// Binds on all interfaces and an OS-chosen port, and (unless the settings turn same-host
  /// sockets off) on a new same-host socket (same_host.hpp); accepts nothing until `start`.
  /// Transports are named `peer_prefix` + "ADDRESS:PORT" in errors, or `peer_prefix` + "pid N
  /// on this host" for a same-host one. `g` must outlive the listener's use.
  static std::shared_ptr<listener> bind(guardian& g, const rpc_settings& settings,
                                        const secret& key, std::string peer_prefix);

  void start(hooks h);
  /// Stops accepting; connections already handed over are unaffected. Call on the user thread.
  void close() noexcept;
  /// For the guardian as it stops (on the user thread): closes and destroys the acceptor on the
  /// guardian's thread; `close` does nothing after this.
  void shut_down() noexcept;
  std::uint16_t port() const noexcept { return port_; }
  /// The same-host socket's name, for dialers on this host; empty when there is none.
  const std::string& same_host_name() const noexcept { return same_host_name_; }

 private:
  listener(guardian& g, const rpc_settings& settings, const secret& key, std::string peer_prefix);
  template <class Acceptor>
  boost::asio::awaitable<void> accept_loop(std::optional<Acceptor>& acceptor);
  /// `host` is the peer's address (empty on a same-host socket), `peer` its name in errors.
  boost::asio::awaitable<void> handshake(stream_socket socket, std::string host, std::string peer);
  /// Reads a cancel connection's one request and hands it to `on_cancel`.
  boost::asio::awaitable<void> deliver_cancel(stream_socket socket);

  guardian& guardian_;
  rpc_settings settings_;
  secret key_;
  std::string peer_prefix_;
  // The acceptors: guardian thread only, after bind.
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::local::stream_protocol::acceptor> same_host_acceptor_;
  std::uint16_t port_ = 0;
  std::string same_host_name_;
  std::atomic<bool> open_{true};
  bool guardian_stopping_ = false;  // user thread only
  hooks hooks_;
};

}  // namespace rpc_parallel::detail
