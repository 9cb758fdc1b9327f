// Slurm figures: a worker spawned as a step on a node of a real Slurm cluster (remote/test_slurm,
// started and torn down here), beside srun's own floor measured against the same node in the
// same run.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <rpc_parallel/app.hpp>

namespace bench {

/// Registers the worker these figures spawn on the nodes.
void add_slurm_workers(rpc_parallel::app& app);

/// Starts a 3-node cluster and measures, inside one salloc allocation and as jobs of their
/// own: the floor (`srun ... true`, timed from our side: fork, exec and exit of srun), and a
/// spawn as a step plus its first RPC, after the node's one-time binary check. Medians of 20
/// (quick: 5). Tears the cluster down, also when a figure throws. Needs root.
boost::asio::awaitable<void> measure_slurm(bool quick);

}  // namespace bench
