// The real Slurm cluster (remote/test_slurm) as the scheduler tests use it: a global fixture
// that starts one for the whole binary, with cgroup process tracking as real sites run it.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace tests {

/// Starts munged, slurmctld and three slurmd (nodes as namespaces), points this process's
/// SLURM_CONF at it, and stops it all when destroyed.
struct slurm_cluster {
  std::vector<std::string> nodes;
  std::string dir;  ///< Its state: slurm.conf, logs.
  slurm_cluster();
  ~slurm_cluster();
};

/// The cluster of the running binary, while its global fixture lives.
extern slurm_cluster* cluster;

/// Use as `BOOST_TEST_GLOBAL_FIXTURE(slurm_fixture);`.
struct slurm_fixture {
  slurm_cluster instance;
  slurm_fixture() { cluster = &instance; }
  ~slurm_fixture() { cluster = nullptr; }
};

/// The pids in `node`'s network namespace other than its slurmd: what a test leaves there.
std::vector<int> leftovers_on(const std::string& node);
/// Whether `condition` holds within `deadline`. Slurm's state (a job's end, a step's) has no
/// event to wait on here: this asks every 20 ms.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline);
/// Slurm's address for `node` (NodeAddr).
std::string address_of(const std::string& node);

}  // namespace tests
