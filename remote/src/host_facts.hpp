// What this process has learned about other hosts and keeps for its lifetime: which copies of
// this binary it has checked there, and the address a host reaches it at. Later launchers use
// these instead of asking again.
#pragma once

#include <optional>
#include <string>

namespace rpc_parallel::detail {

// Each `host_key` is ssh_command.hpp's: a host as reached with certain ssh options.

/// `copy_to_host` has just uploaded this binary to `path`, or found it there with this binary's
/// SHA-256: the first spawn from that copy does not hash it on the host again.
void remember_checked_copy(const std::string& host_key, const std::string& path);
bool is_checked_copy(const std::string& host_key, const std::string& path);
/// `remove` deleted it.
void forget_checked_copy(const std::string& host_key, const std::string& path);

/// This process's address as seen from a host (what `ssh -G` and the route gave): asked once.
void remember_address_seen_from(const std::string& host_key, const std::string& address);
std::optional<std::string> address_seen_from(const std::string& host_key);

}  // namespace rpc_parallel::detail
