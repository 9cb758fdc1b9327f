// The worker role of a process: from reading its configuration to serving until it exits.
#pragma once

#include "rpc_parallel/detail/node.hpp"

namespace rpc_parallel::detail {

/// True when this process was spawned as a worker (the environment marker is set).
bool spawned_as_worker() noexcept;

/// Serves the worker role and returns the process exit code (it never runs master code).
/// Clears the environment marker first, so this worker may spawn workers of its own.
int run_worker_role(const type_registry& types);

}  // namespace rpc_parallel::detail
