// Mutual challenge-response authentication with the application's shared secret (HMAC-SHA256).
#pragma once

#include "rpc_parallel/detail/same_host.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>

namespace rpc_parallel::detail {

/// The application's secret: made by the root master, handed to each worker on its stdin.
using secret = std::array<unsigned char, 32>;

/// `size` bytes from libsodium's CSPRNG. Throws `rpc_error` if it cannot initialise.
void random_bytes(unsigned char* out, std::size_t size);

/// 32 random bytes.
secret make_secret();

/// What a client opens a connection for, proved with the rest of its answer (each has its own
/// MAC label, so it cannot be altered in flight).
enum class connection_purpose : unsigned char {
  /// Frames in both directions, served on the user thread.
  serve,
  /// One cancel (cancel_request) for the guardian to deliver to a busy plain implementation,
  /// then the end.
  cancel,
  /// One inspection (inspection.hpp) for the guardian to answer, then the end.
  inspect,
};

/// Server side of the handshake, before any frame is read: what the client came for. Throws
/// `rpc_error` when the peer does not prove it holds `key` within `timeout`; the caller then
/// drops the socket.
boost::asio::awaitable<connection_purpose> authenticate_server(stream_socket& socket,
                                                               const secret& key,
                                                               std::chrono::milliseconds timeout);

/// Client side; `peer` names the server in error messages. `first_bytes` (a finished frame, a
/// cancel_request, or empty) are sent together with our proof, before the server has proved
/// itself.
boost::asio::awaitable<void> authenticate_client(
    stream_socket& socket, const secret& key, std::chrono::milliseconds timeout, std::string peer,
    std::string first_bytes, connection_purpose purpose = connection_purpose::serve);

}  // namespace rpc_parallel::detail
