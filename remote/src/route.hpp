// Which of this host's addresses another host reaches us at.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <string>

namespace rpc_parallel::detail {

/// This host's own address on its route to `host` (a name or an address): what a worker there
/// dials to reach this process, unless NAT or a tunnel is in between. Resolves the name (a
/// blocking lookup: once per launcher). Throws `rpc_error` naming the host when there is none.
std::string local_address_towards(const boost::asio::any_io_executor& executor,
                                  const std::string& host);

}  // namespace rpc_parallel::detail
