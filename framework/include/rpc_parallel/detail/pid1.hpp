// A master that is PID 1 (a container's entrypoint) stays init for its pid namespace.
#pragma once

namespace rpc_parallel::detail {

/// Returns at once unless this process is PID 1. The kernel makes PID 1 the parent of every
/// orphan in its pid namespace, and a daemonised worker is one: a master there would keep each
/// exited worker as a zombie. So PID 1 forks; the child returns and goes on as the master, and
/// PID 1 becomes a small init that reaps every process, passes signals on to the master, and
/// exits with the master's status (128 + N when signal N ended it). Call it before any thread
/// is started: only the calling thread goes on in the child.
void become_init_if_pid1();

}  // namespace rpc_parallel::detail
