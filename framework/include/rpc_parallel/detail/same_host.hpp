// Links between processes on one host over Unix-domain sockets instead of TCP.
#pragma once

#include "rpc_parallel/rpc_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <string>
#include <string_view>

namespace rpc_parallel::detail {

/// Every connection's socket: TCP to other hosts, a Unix-domain socket on this one.
using stream_socket = boost::asio::generic::stream_protocol::socket;

/// Every listener also takes connections on a socket in the abstract Unix namespace (it has no
/// file, and goes with its process). Its name starts with its host's key: the kernel's boot id
/// and the network namespace's inode, the scope of that namespace. A dialer whose own key
/// matches uses it, skipping TCP's and the loopback device's work; any other dialer uses TCP.
/// "rpc_parallel/BOOT-ID/NETNS-INODE/": every same-host socket name of this host starts so.
/// Empty when /proc does not say (then nothing here uses Unix sockets).
const std::string& this_host_key();

/// A name for a new listener of this process: the host key, the pid and a count. Empty when
/// `settings.same_host_sockets` is off or the host key is unknown.
std::string new_same_host_name(const rpc_settings& settings);

/// True when `name` is non-empty and a socket of this host and network namespace.
bool reachable_here(std::string_view name) noexcept;

/// The abstract-namespace endpoint of `name` (no file: a leading NUL byte, then the name).
boost::asio::local::stream_protocol::endpoint same_host_endpoint(std::string_view name);

/// Connects to the same-host socket `name`; throws `rpc_error` (disconnected) naming `peer`.
boost::asio::awaitable<stream_socket> connect_same_host(std::string_view name,
                                                        const std::string& peer);

/// True when the socket is a TCP one (the options of configure_socket apply).
bool is_tcp(stream_socket& socket) noexcept;

}  // namespace rpc_parallel::detail
