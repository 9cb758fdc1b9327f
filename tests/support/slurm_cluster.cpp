#include "support/slurm_cluster.hpp"

#include "support/test_app.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace tests {
namespace {

// Settings of this binary's own cluster: its state directory, and (for a second suite at
// once) names, subnet and ports apart from remote/test_hosts' and from another cluster's.
std::string cluster_settings() {
  std::string binary = std::filesystem::path(self_path()).filename().string();
  return "RPCP_TEST_SLURM_DIR=/run/rpcp-test-slurm-" + binary +
         " RPCP_TEST_SLURM_PROCTRACK=cgroup ";
}

std::string scripts() { return repository_dir() + "/remote/test_slurm/"; }

}  // namespace

slurm_cluster* cluster = nullptr;

slurm_cluster::slurm_cluster()
    : dir("/run/rpcp-test-slurm-" + std::filesystem::path(self_path()).filename().string()) {
  std::string list = dir + ".nodes";
  std::string command = cluster_settings() + scripts() + "setup.sh 3 > " + list;
  BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, "remote/test_slurm/setup.sh failed");
  std::ifstream in(list);
  for (std::string name; std::getline(in, name);) nodes.push_back(name);
  std::filesystem::remove(list);
  BOOST_TEST_REQUIRE(nodes.size() == 3u);
  // srun, salloc and scontrol of this process and its children find the cluster through it.
  ::setenv("SLURM_CONF", (dir + "/slurm.conf").c_str(), 1);
}

slurm_cluster::~slurm_cluster() {
  std::string command = cluster_settings() + scripts() + "teardown.sh";
  (void)std::system(command.c_str());
}

std::vector<int> leftovers_on(const std::string& node) {
  std::istringstream pids(output_of("ip netns pids " + node));
  std::vector<int> left;
  for (int pid; pids >> pid;) {
    std::string comm;
    std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/comm"), comm);
    if (comm != "slurmd" && !comm.empty()) left.push_back(pid);
  }
  return left;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string address_of(const std::string& node) {
  std::string shown = output_of("scontrol show node --oneliner " + node);
  auto at = shown.find("NodeAddr=");
  if (at == std::string::npos) return {};
  at += 9;
  return shown.substr(at, shown.find(' ', at) - at);
}

}  // namespace tests
