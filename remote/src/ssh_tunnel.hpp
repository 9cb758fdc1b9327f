// Tunnel mode: where a host's workers cannot dial back to this process (a firewall, NAT, the
// login-node problem), their connections travel through ssh, so only sshd's port must be open.
#pragma once

#include "rpc_parallel/remote.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>

namespace rpc_parallel::detail {

/// The tunnel to `host` of this execution context, opened on first use: an ssh connection of
/// its own (a ControlMaster without ControlPersist) whose one session reads our pipe, so that it
/// ends, and every connection it carries with it, when this process does, however it dies. It
/// forwards a port on the host's 127.0.0.1 to `master_port` here; returns that port. Throws
/// `rpc_error` (disconnected) with ssh's reason.
boost::asio::awaitable<std::uint16_t> tunnel_to(ssh_options ssh, std::string host,
                                                std::uint16_t master_port);

/// A port on this host's 127.0.0.1 forwarded through `host`'s tunnel to `port` on the host's
/// 127.0.0.1: how this process reaches a worker's server there. Throws `rpc_error`.
boost::asio::awaitable<std::uint16_t> tunnel_from(ssh_options ssh, std::string host,
                                                  std::uint16_t port);

}  // namespace rpc_parallel::detail
