// Opening a connection to a worker: its same-host socket when it has one here, TCP otherwise.
#pragma once

#include "rpc_parallel/detail/same_host.hpp"
#include "rpc_parallel/rpc_settings.hpp"
#include "rpc_parallel/worker.hpp"

#include <boost/asio/awaitable.hpp>

namespace rpc_parallel::detail {

/// Connects to `worker`, not yet authenticated: over its same-host socket when it is reachable
/// from here and `settings.same_host_sockets` is on, else over TCP (resolving a host name when
/// it is not a numeric address) with configure_socket's options. Throws `rpc_error`
/// (disconnected) naming the worker.
boost::asio::awaitable<stream_socket> dial(const worker_ref& worker, const rpc_settings& settings);

}  // namespace rpc_parallel::detail
