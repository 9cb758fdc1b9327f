// Workers on the nodes of a Slurm cluster, each in the foreground of a step of its own (`srun`):
// link `remote//rpc_parallel_remote` and spawn with
// `spawn_options().with_how(slurm::step("node7"))`, or map over the whole allocation this
// process runs in with `slurm::allocation::current().map_config()`. docs/clusters.md.
#pragma once

#include "rpc_parallel/how_to_run.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rpc_parallel {

class map_config;

namespace slurm {

/// How a worker's step starts. Build it inline: `slurm::options().with_partition("short")`.
struct options {
  options() = default;  // not an aggregate: see spawn_options

  /// The job whose allocation the step runs in (`srun --jobid --overlap`). Empty: the job this
  /// process runs in ($SLURM_JOB_ID), or, outside any job, a job of its own for each worker
  /// (which ends with the worker).
  std::string job_id;
  std::string partition;   ///< `--partition`, for a job of its own; empty: the default.
  std::string time_limit;  ///< `--time` ("30:00"), for a job of its own; empty: the default.
  /// This binary as the nodes see it. Empty: its own path here, which suits a file system the
  /// nodes share. Before the first worker on a node, one step checks that the file there is
  /// this binary (SHA-256) and can run.
  std::string executable;
  /// Not empty: before the first worker, copy this binary with `sbcast` to this directory on
  /// every node of the job (which must exist there and allow executing), as NAME.SHA256-PREFIX,
  /// and run that copy: for nodes that do not see this binary's path. Needs a job.
  std::string broadcast_dir;
  /// More `srun` arguments, before the command (e.g. {"--mem=2G"}).
  std::vector<std::string> extra;
  /// The address workers on the node dial to reach this process. Empty: this host's address on
  /// its route to the node (Slurm's NodeAddr), which is right unless NAT is in between.
  std::string dial_back_address;

  options with_job_id(std::string v) && {
    job_id = std::move(v);
    return std::move(*this);
  }
  options with_partition(std::string v) && {
    partition = std::move(v);
    return std::move(*this);
  }
  options with_time_limit(std::string v) && {
    time_limit = std::move(v);
    return std::move(*this);
  }
  options with_executable(std::string v) && {
    executable = std::move(v);
    return std::move(*this);
  }
  options with_broadcast_to(std::string dir) && {
    broadcast_dir = std::move(dir);
    return std::move(*this);
  }
  options with_extra(std::vector<std::string> v) && {
    extra = std::move(v);
    return std::move(*this);
  }
  options with_dial_back_address(std::string v) && {
    dial_back_address = std::move(v);
    return std::move(*this);
  }
};

/// A worker as one step on `node` (empty: where Slurm puts it): `srun --nodes=1 --ntasks=1`
/// runs this binary there in the foreground of the step, never as a daemon, so that the step's
/// end (scancel, a time limit, a node failure) ends it, and its death report names Slurm's
/// reason. Its configuration and secret travel through the step's stdin, its output back
/// through srun.
how_to_run step(std::string node = {}, options how = {});

/// One node of an allocation and the CPUs the job has there.
struct node {
  std::string name;
  std::size_t cpus = 1;
};

/// The nodes of a job's allocation.
class allocation {
 public:
  /// The job this process runs in, from $SLURM_JOB_ID, $SLURM_JOB_NODELIST and
  /// $SLURM_JOB_CPUS_PER_NODE (as `salloc`, `sbatch` and `srun` set them). Throws `rpc_error`
  /// when they are missing: run the master under `salloc` or in a batch script.
  static allocation current();
  /// From those three values.
  static allocation of(std::string job_id, std::string_view node_list,
                       std::string_view cpus_per_node);

  const std::string& job_id() const noexcept { return job_id_; }
  const std::vector<node>& nodes() const noexcept { return nodes_; }

  /// A map-reduce over the allocation: one worker per CPU on every node, each a step of this
  /// job, plus `local` workers on this host (0: none; the master's own node, when it is one of
  /// the allocation's, has its workers as steps like every other).
  rpc_parallel::map_config map_config(std::size_t local = 0, options how = {}) const;

 private:
  std::string job_id_;
  std::vector<node> nodes_;
};

/// Slurm's host list expression as names: "n[1-3,7],login" is n1 n2 n3 n7 login; zero padding
/// is kept ("n[08-10]" is n08 n09 n10). Throws `rpc_error` on a malformed list.
std::vector<std::string> expand_host_list(std::string_view list);
/// $SLURM_JOB_CPUS_PER_NODE's run-length form: "2(x3),1" is 2 2 2 1. Throws `rpc_error`.
std::vector<std::size_t> expand_cpus_per_node(std::string_view counts);

}  // namespace slurm
}  // namespace rpc_parallel
