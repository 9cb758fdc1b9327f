// Opening ssh connections to many hosts at once without tripping sshd's MaxStartups.
#pragma once

#include "rpc_parallel/remote.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace rpc_parallel::detail {

/// At most this many ssh connections are being set up at once from this process: below sshd's
/// default MaxStartups (10), past which sshd drops new connections at random.
inline constexpr int max_connections_in_setup = 8;

/// Makes sure a multiplexed (ControlMaster) connection to `host` is up before ssh commands
/// reuse it: the first caller per host opens it, within the process-wide limit above, and
/// concurrent callers wait for that one instead of each opening their own. Without
/// multiplexing it does nothing. Throws `rpc_error` (disconnected) with ssh's reason.
boost::asio::awaitable<void> ensure_connection(const ssh_options& ssh, const std::string& host);

}  // namespace rpc_parallel::detail
