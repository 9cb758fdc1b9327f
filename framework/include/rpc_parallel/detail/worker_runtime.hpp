// Steps 3 to 6 of the worker side of the spawn handshake, on the worker's io_context.
#pragma once

#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/worker_config.hpp"

#include <functional>

namespace rpc_parallel::detail {

/// Registers with the master, calls `release`, initialises and serves. Returns the exit code.
/// `joined_link`: a connected socket to the master that already proved the secret (a worker
/// that joined by itself, join_worker.hpp), on which it registers; -1: it dials the master.
int serve_as_worker(const type_registry& types, const worker_type_entry& type, worker_config config,
                    std::function<void()> release, int joined_link = -1);

}  // namespace rpc_parallel::detail
