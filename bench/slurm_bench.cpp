#include "slurm_bench.hpp"

#include <boost/asio/this_coro.hpp>
#include <rpc_parallel/rpc_parallel.hpp>
#include <rpc_parallel/slurm.hpp>

#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "report.hpp"

extern char** environ;

namespace bench {
namespace {

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct slurm_ping_worker {
  static constexpr std::string_view name = "slurm_ping_worker";
  static constexpr rp::rpc<slurm_ping_worker, std::int64_t, std::int64_t> ping{"ping"};
  static void implement(rp::implementations<slurm_ping_worker>& impl) {
    impl.add(ping, [](std::int64_t x) { return x + 1; });
  }
};

// The cluster's settings: apart from the tests' and the example's clusters.
const std::string settings =
    "RPCP_TEST_SLURM_DIR=/run/rpcp-test-slurm-bench RPCP_TEST_SLURM_NAME=rpcp-b "
    "RPCP_TEST_SLURM_NET=10.203.0 RPCP_TEST_SLURM_PORT=16837 RPCP_TEST_SLURM_PROCTRACK=cgroup ";

std::string scripts() {
  auto path = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  while (!path.empty() && path != path.root_path() && !std::filesystem::exists(path / "Jamroot"))
    path = path.parent_path();
  return (path / "remote" / "test_slurm").string();
}

struct cluster {
  cluster() {
    std::string up = settings + scripts() + "/setup.sh 3 >/dev/null";
    if (std::system(up.c_str()) != 0) throw std::runtime_error("slurm bench: setup.sh failed");
    ::setenv("SLURM_CONF", "/run/rpcp-test-slurm-bench/slurm.conf", 1);
  }
  ~cluster() { (void)std::system((settings + scripts() + "/teardown.sh").c_str()); }
};

// Seconds from posix_spawnp to the exit of `argv` (which must succeed).
double time_command(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto start = clock_type::now();
  pid_t pid = -1;
  if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0)
    throw std::runtime_error("slurm bench: cannot start " + argv[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  double took = seconds_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("slurm bench: " + argv[0] + " failed");
  return took;
}

std::string output_of(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[256];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ::pclose(pipe);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// spawn + first RPC with `how`; the worker is closed (its step ends) before the next sample.
asio::awaitable<double> spawn_and_ping(rp::how_to_run how) {
  auto start = clock_type::now();
  auto conn = co_await rp::spawn<slurm_ping_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options().with_how(how));
  std::int64_t answer = co_await conn.run(slurm_ping_worker::ping, 41);
  double took = seconds_since(start);
  if (answer != 42) throw std::runtime_error("slurm bench: wrong answer");
  co_return took;
}

// One pair of figures: the floor and ours, medians of `samples`, alternated so that both see
// the same machine.
asio::awaitable<void> measure_pair(const std::string& what, std::vector<std::string> floor,
                                   rp::how_to_run how, int samples) {
  co_await spawn_and_ping(how);  // the node's one-time check of the binary
  std::vector<double> theirs, ours;
  for (int i = 0; i < samples; ++i) {
    theirs.push_back(time_command(floor));
    ours.push_back(co_await spawn_and_ping(how));
  }
  double f = percentile(theirs, 0.5) * 1e3, o = percentile(ours, 0.5) * 1e3;
  report("slurm_floor_srun_true_" + what + "_ms", f, "ms");
  report("slurm_spawn_first_answer_" + what + "_ms", o, "ms");
  ratio("slurm_spawn_" + what, o, f, "<= 1.3x");
}

}  // namespace

void add_slurm_workers(rp::app& app) { app.add_worker<slurm_ping_worker>(); }

asio::awaitable<void> measure_slurm(bool quick) {
  int samples = quick ? 5 : 20;
  cluster up;
  wait_for_idle("slurm");
  // Inside an allocation, as map-reduce over one runs: steps of one job.
  std::string granted = output_of("salloc --no-shell --nodes=1 -w rpcp-b1 2>&1");
  auto at = granted.rfind(' ');
  std::string job = at == std::string::npos ? "" : granted.substr(at + 1);
  if (job.empty() || job.find_first_not_of("0123456789") != std::string::npos)
    throw std::runtime_error("slurm bench: salloc said " + granted);
  try {
    co_await measure_pair("step",
                          {"srun", "--jobid=" + job, "--overlap", "--nodes=1", "--ntasks=1",
                           "--nodelist=rpcp-b1", "true"},
                          rp::slurm::step("rpcp-b1", rp::slurm::options().with_job_id(job)),
                          samples);
  } catch (...) {
    (void)std::system(("scancel " + job).c_str());
    throw;
  }
  (void)std::system(("scancel " + job).c_str());
  // A job of its own per worker (no allocation): on another node, whose jobs end between
  // samples.
  co_await measure_pair("own_job",
                        {"srun", "--nodes=1", "--ntasks=1", "--nodelist=rpcp-b2", "true"},
                        rp::slurm::step("rpcp-b2"), samples);
}

}  // namespace bench
