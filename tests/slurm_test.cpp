// Workers as steps of a real Slurm cluster (remote/test_slurm, cgroup process tracking): where
// they run, that they stay in their step, that a step's end ends them, and that a master's death
// leaves nothing on any node.
#include "support/child_process.hpp"
#include "support/remote_hosts.hpp"
#include "support/slurm_cluster.hpp"
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/slurm.hpp>

#include <boost/test/unit_test.hpp>

#include <sys/prctl.h>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace tests;

namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string parent_command(std::int64_t pid) {
  std::string status = file_text("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("PPid:");
  if (at == std::string::npos) return {};
  int parent = std::stoi(status.substr(at + 5));
  std::string comm = file_text("/proc/" + std::to_string(parent) + "/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

bool nothing_left_on(const std::string& node) {
  return eventually([&node] { return leftovers_on(node).empty(); }, 10s);
}

bool no_job_left() {
  return eventually([] { return output_of("squeue -h -o %i").empty(); }, 10s);
}

// Whether a thread of `pid` is on a CPU or runnable: the busy call's spin has begun (an idle
// worker's threads all sleep).
bool has_running_thread(std::int64_t pid) {
  std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::string stat = file_text(task.path().string() + "/stat");
    auto close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'R')
      return true;
  }
  return false;
}

bool contains_pid(const std::vector<int>& pids, std::int64_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

asio::awaitable<void> spawn_on(std::string node, std::optional<rp::connection<echo_worker>>& slot) {
  auto options = rp::spawn_options().with_name("on-" + node).with_how(rp::slurm::step(node));
  auto conn =
      co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed, std::move(options), node);
  slot.emplace(std::move(conn));
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(slurm_fixture);

BOOST_AUTO_TEST_SUITE(slurm_suite)

BOOST_AUTO_TEST_CASE(a_worker_on_each_node_answers_from_inside_its_step) {
  tests::run(
      []() -> asio::awaitable<void> {
        std::vector<std::optional<rp::connection<echo_worker>>> conns(cluster->nodes.size());
        std::vector<asio::awaitable<void>> spawns;
        for (std::size_t i = 0; i < conns.size(); ++i)
          spawns.push_back(spawn_on(cluster->nodes[i], conns[i]));
        co_await all_at_once(std::move(spawns));
        for (std::size_t i = 0; i < conns.size(); ++i) {
          const std::string& node = cluster->nodes[i];
          answers got;
          co_await ask(*conns[i], got);
          BOOST_TEST(got.echoed == node + ":hi");
          BOOST_TEST(got.hostname == node);                         // the node's UTS namespace
          BOOST_TEST(conns[i]->peer().host() == address_of(node));  // reached at the node's address
          BOOST_TEST(contains_pid(leftovers_on(node), got.pid));    // in the node's network
          // In the foreground of its step, tracked by the step's cgroup: not a daemon.
          BOOST_TEST(parent_command(got.pid) == "slurmstepd");
          std::string cgroups = file_text("/proc/" + std::to_string(got.pid) + "/cgroup");
          BOOST_TEST(contains(cgroups, "/job_"), cgroups);
          BOOST_TEST(contains(cgroups, "/step_"), cgroups);
        }
      },
      120s);
  for (const auto& node : cluster->nodes) BOOST_TEST(nothing_left_on(node), node);
  BOOST_TEST(no_job_left());
}

// The jobs on `node` (each worker outside an allocation is a job of its own).
std::string jobs_on(const std::string& node) {
  return output_of("squeue -h -w " + node + " -o %i");
}

BOOST_AUTO_TEST_CASE(an_idle_worker_whose_step_is_cancelled_leaves_saying_who_ended_it) {
  tests::run(
      []() -> asio::awaitable<void> {
        const std::string node = cluster->nodes.at(0);
        auto options = rp::spawn_options().with_name("idle").with_how(rp::slurm::step(node));
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    std::move(options), "idle");
        std::int64_t pid = co_await conn.run(echo_worker::pid);
        std::string jobs = jobs_on(node);
        BOOST_REQUIRE(!jobs.empty());
        BOOST_REQUIRE(std::system(("scancel " + jobs).c_str()) == 0);
        co_await conn.closed();  // slurmstepd's SIGTERM: it leaves, which is no death
        BOOST_TEST(contains(conn.close_reason(), "(slurmstepd)"), conn.close_reason());
        BOOST_TEST(wait_until_exited(static_cast<pid_t>(pid), 10s), "it outlived its step");
      },
      60s);
  BOOST_TEST(nothing_left_on(cluster->nodes.at(0)));
  BOOST_TEST(no_job_left());
}

BOOST_AUTO_TEST_CASE(a_busy_worker_whose_step_is_cancelled_dies_and_its_call_names_slurms_reason) {
  tests::run(
      []() -> asio::awaitable<void> {
        const std::string node = cluster->nodes.at(1);
        auto options = rp::spawn_options().with_name("busy").with_how(rp::slurm::step(node));
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    std::move(options), "busy");
        std::int64_t pid = co_await conn.run(echo_worker::pid);
        std::string jobs = jobs_on(node);
        BOOST_REQUIRE(!jobs.empty());
        // Busy for longer than the cluster's KillWait (5 s): Slurm kills it with SIGKILL then.
        // The step is cancelled once the call spins (from a thread: this one awaits the call).
        bool cancelled = false;
        std::thread canceller([pid, &jobs, &cancelled] {
          cancelled = eventually([pid] { return has_running_thread(pid); }, 10s) &&
                      std::system(("scancel " + jobs).c_str()) == 0;
        });
        auto result = co_await conn.try_run(echo_worker::busy, 30'000);
        canceller.join();
        BOOST_REQUIRE(cancelled);
        BOOST_REQUIRE(!result.has_value());
        BOOST_TEST_MESSAGE(result.error().message);
        BOOST_TEST(contains(result.error().message, "Slurm ended its step: STEP " + jobs +
                                                        ".0 ON " + node + " CANCELLED AT"),
                   result.error().message);
        BOOST_TEST(wait_until_exited(static_cast<pid_t>(pid), 10s));
      },
      90s);
  BOOST_TEST(nothing_left_on(cluster->nodes.at(1)));
  BOOST_TEST(no_job_left());
}

BOOST_AUTO_TEST_CASE(a_broadcast_binary_is_what_the_step_runs) {
  const std::string node = cluster->nodes.at(2);
  std::string granted = output_of("salloc --no-shell --nodes=1 -w " + node + " 2>&1");
  std::string job = granted.substr(granted.rfind(' ') + 1);
  BOOST_REQUIRE_MESSAGE(!job.empty() && job.find_first_not_of("0123456789") == std::string::npos,
                        granted);
  const std::string dir = "/tmp/rpcp-broadcast-" + job;
  std::filesystem::create_directories(dir);
  tests::run(
      [&]() -> asio::awaitable<void> {
        auto how =
            rp::slurm::step(node, rp::slurm::options().with_job_id(job).with_broadcast_to(dir));
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options().with_how(how), "copy");
        std::int64_t pid = co_await conn.run(echo_worker::pid);
        auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe");
        BOOST_TEST(exe.parent_path() == dir);
        BOOST_TEST(exe.filename().string().rfind(
                       std::filesystem::path(self_path()).filename().string() + ".", 0) == 0,
                   exe);
      },
      60s);
  BOOST_TEST(std::system(("scancel " + job).c_str()) == 0);
  BOOST_TEST(nothing_left_on(node));
  BOOST_TEST(no_job_left());
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(master_sigkill_leaves_no_step_and_no_worker_on_any_node) {
  BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);  // its sruns come to us
  std::string nodes;
  for (const auto& node : cluster->nodes) nodes += node + " ";
  ::setenv("RPCP_SCENARIO_NODES", nodes.c_str(), 1);
  tests::child master = tests::launch(self_path(), "slurm_spawn_and_hang");
  auto lines = tests::read_lines_until(master.stdout_fd, "ready", 60s);
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE_EQUAL(lines.back(), "ready");
  std::vector<pid_t> workers;
  for (const auto& line : lines)
    if (line.rfind("pid ", 0) == 0) workers.push_back(std::stoi(line.substr(4)));
  BOOST_REQUIRE_EQUAL(workers.size(), 2 * cluster->nodes.size());
  BOOST_REQUIRE(::kill(master.pid, SIGKILL) == 0);
  BOOST_TEST(tests::reap_within(master.pid, 5s));
  rp::rpc_settings defaults;
  for (pid_t pid : workers)  // one pid namespace: the nodes' processes are visible here
    BOOST_TEST(wait_until_exited(pid, defaults.heartbeat_timeout + 1s),
               "worker " << pid << " outlived its master");
  // Each srun ends with its step; they were the master's children, and now are ours.
  for (pid_t srun : children()) BOOST_TEST(tests::reap_within(srun, 10s));
  for (const auto& node : cluster->nodes) BOOST_TEST(nothing_left_on(node), node);
  BOOST_TEST(no_job_left());
}

std::vector<std::string> rest_of_output(const tests::child& master, std::chrono::seconds deadline) {
  return tests::read_lines_until(master.stdout_fd, "\n(never printed)", deadline);
}

std::string line_starting(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& line : lines)
    if (line.rfind(prefix, 0) == 0) return line;
  return {};
}

BOOST_AUTO_TEST_CASE(map_reduce_over_an_salloc_allocation_runs_on_every_node) {
  tests::child master =
      tests::launch({"salloc", "--nodes=3", self_path(), "--scenario", "map_over_allocation"});
  auto lines = rest_of_output(master, 120s);
  BOOST_TEST(tests::reap_within_status(master.pid, 10s) == 0);
  BOOST_TEST(line_starting(lines, "sum ") == "sum 49995000");  // 0 + ... + 9999, each once
  std::string hosts = "hosts";
  for (const auto& node : cluster->nodes) hosts += " " + node;
  BOOST_TEST(line_starting(lines, "hosts") == hosts);
  for (const auto& node : cluster->nodes) BOOST_TEST(nothing_left_on(node), node);
  BOOST_TEST(no_job_left());
}

BOOST_AUTO_TEST_CASE(scancel_mid_map_ends_every_worker_and_the_master_says_why) {
  tests::child master = tests::launch(
      {"salloc", "--nodes=3", self_path(), "--scenario", "map_until_cancelled"}, true);
  auto lines = tests::read_lines_until(master.stdout_fd, "ready", 120s);
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE_EQUAL(lines.back(), "ready");
  std::string job = output_of("squeue -h -o %i");
  BOOST_REQUIRE(!job.empty());
  BOOST_REQUIRE(std::system(("scancel " + job).c_str()) == 0);
  auto rest = rest_of_output(master, 60s);
  lines.insert(lines.end(), rest.begin(), rest.end());
  BOOST_TEST(tests::reap_within_status(master.pid, 10s) == 1);
  std::string error;  // its first line and the deaths listed under it
  for (auto line = std::find_if(lines.begin(), lines.end(),
                                [](const auto& l) { return l.rfind("error: ", 0) == 0; });
       line != lines.end(); ++line)
    error += *line + "\n";
  std::string output;  // all of it (stderr included), for a failure's message
  for (const auto& line : lines) output += line + "\n";
  BOOST_TEST_MESSAGE(output);
  BOOST_TEST(contains(error, "Slurm job " + job), output);
  BOOST_TEST(contains(error, "CANCELLED"), output);
  for (const auto& line : lines)
    if (line.rfind("pid ", 0) == 0)
      BOOST_TEST(wait_until_exited(std::stoi(line.substr(4)), 10s), line << " outlived its job");
  for (const auto& node : cluster->nodes) BOOST_TEST(nothing_left_on(node), node);
  BOOST_TEST(no_job_left());
}

BOOST_AUTO_TEST_CASE(srun_of_four_copies_makes_one_master_and_three_joined_workers) {
  tests::child job = tests::launch(
      {"srun", "--ntasks=4", "--nodes=3", self_path(), "--scenario", "symmetric_map"}, true);
  auto lines = rest_of_output(job, 120s);
  BOOST_TEST(tests::reap_within_status(job.pid, 10s) == 0);
  BOOST_TEST(line_starting(lines, "peers ") == "peers 3");
  BOOST_TEST(line_starting(lines, "sum ") == "sum 49995000");  // 0 + ... + 9999, each once
  std::string hosts = "hosts";  // rank 0's node has a second copy: every node works
  for (const auto& node : cluster->nodes) hosts += " " + node;
  BOOST_TEST(line_starting(lines, "hosts") == hosts);
  // The master removed its rendezvous file ($HOME/.rpc_parallel/rendezvous-JOB.STEP).
  std::string left = output_of("ls \"$HOME/.rpc_parallel\" 2>/dev/null | grep rendezvous");
  BOOST_TEST(left.empty(), left);
  for (const auto& node : cluster->nodes) BOOST_TEST(nothing_left_on(node), node);
  BOOST_TEST(no_job_left());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(slurm_allocation_suite)

BOOST_AUTO_TEST_CASE(host_lists_expand_as_slurm_writes_them) {
  using v = std::vector<std::string>;
  BOOST_TEST(rp::slurm::expand_host_list("n1") == v{"n1"});
  BOOST_TEST(rp::slurm::expand_host_list("n[1-3,7],login") == (v{"n1", "n2", "n3", "n7", "login"}));
  BOOST_TEST(rp::slurm::expand_host_list("n[08-10]") == (v{"n08", "n09", "n10"}));
  BOOST_TEST(rp::slurm::expand_host_list("r[1-2]-n[5,7]") ==
             (v{"r1-n5", "r1-n7", "r2-n5", "r2-n7"}));
  BOOST_CHECK_THROW(rp::slurm::expand_host_list("n[1-3"), rp::rpc_error);
  BOOST_CHECK_THROW(rp::slurm::expand_host_list("n[3-1]"), rp::rpc_error);
  BOOST_CHECK_THROW(rp::slurm::expand_host_list("n[a]"), rp::rpc_error);
}

BOOST_AUTO_TEST_CASE(cpu_counts_expand_and_must_match_the_nodes) {
  using v = std::vector<std::size_t>;
  BOOST_TEST(rp::slurm::expand_cpus_per_node("2(x3),1") == (v{2, 2, 2, 1}));
  BOOST_TEST(rp::slurm::expand_cpus_per_node("16") == v{16});
  BOOST_CHECK_THROW(rp::slurm::expand_cpus_per_node("2(x3"), rp::rpc_error);
  auto a = rp::slurm::allocation::of("42", "n[1-2],m", "4(x2),8");
  BOOST_TEST(a.job_id() == "42");
  BOOST_REQUIRE_EQUAL(a.nodes().size(), 3u);
  BOOST_TEST(a.nodes()[2].name == "m");
  BOOST_TEST(a.nodes()[2].cpus == 8u);
  auto config = a.map_config(1);
  BOOST_TEST(config.local == 1u);
  BOOST_REQUIRE_EQUAL(config.remote.size(), 3u);
  BOOST_TEST(config.remote[0].count == 4u);
  BOOST_TEST(config.remote[0].how.host() == "n1");
  BOOST_CHECK_THROW(rp::slurm::allocation::of("42", "n[1-3]", "4(x2)"), rp::rpc_error);
}

BOOST_AUTO_TEST_CASE(outside_an_allocation_current_says_where_to_run) {
  std::string saved = std::getenv("SLURM_JOB_ID") ? std::getenv("SLURM_JOB_ID") : "";
  ::unsetenv("SLURM_JOB_ID");
  try {
    rp::slurm::allocation::current();
    BOOST_FAIL("no error");
  } catch (const rp::rpc_error& e) {
    BOOST_TEST(contains(e.what(), "salloc"), e.what());
  }
  if (!saved.empty()) ::setenv("SLURM_JOB_ID", saved.c_str(), 1);
}

BOOST_AUTO_TEST_SUITE_END()
