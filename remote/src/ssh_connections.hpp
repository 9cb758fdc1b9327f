// Opening ssh connections to many hosts at once without tripping sshd's MaxStartups.
#pragma once

#include "rpc_parallel/remote.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

/// At most this many ssh connections are being set up at once from this process: below sshd's
/// default MaxStartups (10), past which sshd drops new connections at random.
inline constexpr int max_connections_in_setup = 8;

/// Lasting sessions (a worker's output) one multiplexed connection carries: below sshd's
/// default MaxSessions (10), leaving room for short commands. More go to another connection.
inline constexpr int sessions_per_connection = 8;

/// Makes sure multiplexed (ControlMaster) connection `slot` to `host` is up before ssh commands
/// reuse it: the first caller opens it, within the process-wide limit above, and concurrent
/// callers wait for that one instead of each opening their own. Without multiplexing it does
/// nothing. Throws `rpc_error` (disconnected) with ssh's reason.
boost::asio::awaitable<void> ensure_connection(const ssh_options& ssh, const std::string& host,
                                               std::size_t slot = 0);

/// Reserves room for a lasting session on the first connection to `host` that has some (opening
/// it if need be) and returns that connection's slot. Give it back with `release_session`.
boost::asio::awaitable<std::size_t> reserve_session(const ssh_options& ssh,
                                                    const std::string& host);
void release_session(const boost::asio::any_io_executor& executor, const ssh_options& ssh,
                     const std::string& host, std::size_t slot);

/// `ssh_command` through connection `slot` (its own ControlPath).
std::vector<std::string> ssh_command_on(const ssh_options& ssh, const std::string& host,
                                        std::vector<std::string> remote, std::size_t slot);

}  // namespace rpc_parallel::detail
