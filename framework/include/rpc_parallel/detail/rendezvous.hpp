// The files through which a worker that joins by itself finds its master: the rendezvous file
// (addresses, port and secret) and the secret file (the secret alone), both mode 0600.
#pragma once

#include "rpc_parallel/detail/auth.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

struct rendezvous {
  std::vector<std::string> addresses;  ///< This host's, non-loopback first.
  std::uint16_t port = 0;
  secret key{};
};

/// This host's IPv4 addresses that are up: non-loopback ones first, then 127.0.0.1.
std::vector<std::string> host_addresses();

/// Writes `r` to `path` (mode 0600, through a temporary name and a rename). Throws `rpc_error`.
void write_rendezvous(const std::string& path, const rendezvous& r);
/// The rendezvous at `path`; empty while the file does not exist. Throws `rpc_error` when it is
/// malformed, or readable by others than its owner (the secret would not be secret).
std::optional<rendezvous> read_rendezvous(const std::string& path);

/// Writes the secret in hex to `path` (mode 0600). Throws `rpc_error`.
void write_secret_file(const std::string& path, const secret& key);
/// The secret in hex in `path`. Throws `rpc_error` when it is missing, malformed, or readable by
/// others than its owner.
secret read_secret_file(const std::string& path);
/// The secret from hex text. Throws `rpc_error` naming `where` when malformed.
secret secret_from_hex(const std::string& hex, const std::string& where);

}  // namespace rpc_parallel::detail
