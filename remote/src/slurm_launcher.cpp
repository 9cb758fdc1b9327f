// Starting a worker as a step of a Slurm job: `srun --nodes=1 --ntasks=1 [-w NODE] env MARKER=1
// K=V... PATH ARGS...`, with the same stdin handshake as a local spawn (srun forwards its stdin
// to the task). The worker stays in the foreground of its step: it never daemonises, so the
// step's end ends it and cgroup tracking keeps it. Before the first worker on a node, one step
// checks the binary there (preflight.hpp); the address the worker dials back is found from this
// host's route to the node.
#include "rpc_parallel/slurm.hpp"

#include "preflight.hpp"
#include "route.hpp"
#include "ssh_command.hpp"

#include "rpc_parallel/detail/launcher.hpp"
#include "rpc_parallel/detail/one_at_a_time.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/error.hpp"

#include <unistd.h>

#include <boost/asio/this_coro.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <utility>

namespace rpc_parallel {
namespace detail {
namespace {
namespace asio = boost::asio;

// `KEY=value` in scontrol's one-line output, or empty.
std::string field(const std::string& text, const std::string& key) {
  std::string needle = key + "=";
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    if (at != 0 && text[at - 1] != ' ' && text[at - 1] != '\n') continue;
    std::size_t start = at + needle.size();
    return text.substr(start, text.find_first_of(" \n", start) - start);
  }
  return {};
}

class step_launcher final : public launcher {
 public:
  step_launcher(std::string node, slurm::options how)
      : node_(std::move(node)), how_(std::move(how)) {
    if (how_.job_id.empty())
      if (const char* job = std::getenv("SLURM_JOB_ID")) how_.job_id = job;
    if (how_.executable.empty())
      how_.executable = std::filesystem::read_symlink("/proc/self/exe").string();
  }

  std::string host() const override { return node_.empty() ? "slurm" : node_; }
  std::string where() const override {
    return node_.empty() ? "a Slurm node" : "Slurm node " + node_;
  }
  bool forwards_output_by_default() const override { return true; }
  bool carries_output() const override { return true; }
  bool keeps_worker_in_foreground() const override { return true; }

  asio::awaitable<prepared_launch> prepare(std::uint16_t, bool) const override {
    // Checked once per launcher; spawns started together wait for the first one's check.
    if (master_address_.empty()) {
      auto turn = co_await checking_.take();  // the first spawn checks; the others wait
      if (master_address_.empty()) {
        if (!how_.broadcast_dir.empty()) co_await broadcast();
        co_await preflight();
        if (!how_.dial_back_address.empty())
          master_address_ = how_.dial_back_address;
        else
          master_address_ = co_await address_seen_from_node();
      }
    }
    co_return prepared_launch{master_address_, 0, nullptr};
  }

  launched launch(const launch_request& request, prepared_launch) const override {
    std::vector<std::string> args = srun();
    args.insert(args.end(), {"env", std::string(worker_env_marker) + "=1"});
    for (const auto& [key, value] : request.env) {
      check_env_name(key);
      args.push_back(key + "=" + value);
    }
    args.insert(args.end(), request.wrapper.begin(), request.wrapper.end());
    args.push_back(how_.executable);
    args.insert(args.end(), request.argv.begin() + 1, request.argv.end());
    return spawn_process("srun", true, std::move(args), this_environment(), request.pipe_stdout);
  }

  // srun says only that it could not start a step in a job that has ended: scontrol says how
  // it ended (while Slurm keeps the record, MinJobAge: 300 s by default).
  asio::awaitable<std::string> explain_failed_start(std::string tail) const override {
    if (how_.job_id.empty() || !ended_job(tail)) co_return std::string();
    std::vector<std::string> show{"scontrol", "show", "job", "--oneliner", how_.job_id};
    captured shown = co_await run_capture(std::move(show));
    std::string state = field(shown.out, "JobState");
    if (state.empty())
      co_return "the Slurm job " + how_.job_id + " is over, so no step can start in it";
    std::string reason = field(shown.out, "Reason");
    co_return "the Slurm job " + how_.job_id + " is over (JobState=" + state +
        (reason.empty() || reason == "None" ? "" : " Reason=" + reason) +
        "), so no step can start in it; see `sacct -j " + how_.job_id + "`";
  }

  // slurmstepd writes "*** STEP 12.0 ON n1 CANCELLED AT 2026-12-02T10:00:00 ***" (or "DUE TO
  // TIME LIMIT", "DUE TO NODE FAILURE", "DUE TO PREEMPTION") to the step's stderr when Slurm
  // ends it; srun adds "Node failure on n1" when a node stops answering.
  std::string cause_of_death(const std::string& tail) const override {
    std::istringstream lines(tail);
    std::string found;
    for (std::string line; std::getline(lines, line);) {
      auto open = line.find("*** ");
      auto close = line.rfind(" ***");
      if (open != std::string::npos && close != std::string::npos && close > open)
        return "Slurm ended its step: " + line.substr(open + 4, close - open - 4);
      if (auto failure = line.find("Node failure on"); failure != std::string::npos)
        found = "Slurm reports a node failure: " + line.substr(failure);
    }
    return found;
  }

 private:
  // srun and the arguments that place one task: in the job, or as a job of its own.
  std::vector<std::string> srun() const {
    std::vector<std::string> args{"srun", "--nodes=1", "--ntasks=1"};
    if (!how_.job_id.empty()) {
      args.insert(args.end(), {"--jobid=" + how_.job_id, "--overlap"});
    } else {
      if (!how_.partition.empty()) args.push_back("--partition=" + how_.partition);
      if (!how_.time_limit.empty()) args.push_back("--time=" + how_.time_limit);
    }
    if (!node_.empty()) args.push_back("--nodelist=" + node_);
    args.insert(args.end(), how_.extra.begin(), how_.extra.end());
    return args;
  }

  std::string where_path() const { return host() + ":" + how_.executable; }

  // sbcast of this binary to every node of the job, once per job and directory in this process
  // (every node's launcher needs it; sbcast serves them all); the steps then run that copy.
  asio::awaitable<void> broadcast() const {
    if (how_.job_id.empty())
      throw rpc_error({error_kind::failed,
                       "slurm::options::broadcast_dir needs a job to broadcast to: run the master "
                       "in an allocation, or give with_job_id"});
    std::string name = std::filesystem::read_symlink("/proc/self/exe").filename().string();
    if (auto deleted = name.find(" (deleted)"); deleted != std::string::npos) name.erase(deleted);
    std::string path = how_.broadcast_dir + "/" + name + "." + local_binary_hash().substr(0, 16);
    auto& state = broadcasts()[how_.job_id + ":" + path];
    auto executor = co_await asio::this_coro::executor;
    if (!state.done) state.done = std::make_unique<wakeup>(executor);
    while (state.running) co_await state.done->wait();
    if (!state.copied) {
      state.running = true;
      // From sbcast's side /proc/self/exe is sbcast: name this process's binary by its pid.
      std::vector<std::string> copy{"sbcast", "--jobid=" + how_.job_id, "--force",
                                    "/proc/" + std::to_string(::getpid()) + "/exe", path};
      captured result = co_await run_capture(std::move(copy));
      state.running = false;
      state.done->notify();
      if (result.status != 0)
        throw rpc_error({error_kind::failed, "sbcast of this binary to " + path + " in job " +
                                                 how_.job_id + " failed (" + last_line(result.err) +
                                                 "); is the directory there on every node?"});
      state.copied = true;
    }
    how_.executable = path;
  }

  struct broadcast_state {
    bool running = false, copied = false;
    std::unique_ptr<wakeup> done;
  };
  // By job and destination, for this process (whose I/O thread alone touches it).
  static std::map<std::string, broadcast_state>& broadcasts() {
    static std::map<std::string, broadcast_state> all;
    return all;
  }

  asio::awaitable<void> preflight() const {
    std::vector<std::string> check = srun();
    check.insert(check.end(), {"sh", "-c", preflight_script(how_.executable)});
    captured result = co_await run_capture(std::move(check));
    if (result.status != 0)
      throw rpc_error({error_kind::disconnected,
                       "cannot start a step on " + where() + " to check " + where_path() +
                           ": srun exited with status " + std::to_string(result.status) + " (" +
                           last_line(result.err) + ")" + advice(result.err)});
    check_preflight(result, where_path(), host(),
                    "every node must see this binary at that path (a shared file system), or "
                    "give slurm::options::executable the path of a copy there");
  }

  // What srun 22.05 says when it cannot start a step because the job is over.
  static bool ended_job(const std::string& err) {
    return err.find("Invalid job id") != std::string::npos ||
           err.find("has expired") != std::string::npos ||
           err.find("already completing or completed") != std::string::npos;
  }

  std::string advice(const std::string& err) const {
    if (ended_job(err))
      return "; the job " + how_.job_id + " has ended (see `scontrol show job " + how_.job_id +
             "`): start the master in a running allocation";
    if (err.find("Invalid node name") != std::string::npos ||
        err.find("not in the job") != std::string::npos ||
        err.find("Requested node configuration is not available") != std::string::npos)
      return "; check the node's name with `sinfo -N`";
    return {};
  }

  // The node's address as Slurm knows it (NodeAddr; the controller's when Slurm picks the
  // node), and this host's address on the route there.
  asio::awaitable<std::string> address_seen_from_node() const {
    std::string address;
    if (!node_.empty()) {
      std::vector<std::string> show{"scontrol", "show", "node", "--oneliner", node_};
      captured shown = co_await run_capture(std::move(show));
      address = field(shown.out, "NodeAddr");
      RPCP_REQUIRE(!address.empty(), "scontrol show node ", node_,
                   " printed no NodeAddr: ", last_line(shown.err));
    } else {
      std::vector<std::string> ping{"scontrol", "ping"};
      captured shown = co_await run_capture(std::move(ping));
      // "Slurmctld(primary) at NAME is UP"
      std::istringstream words(shown.out);
      for (std::string word, last; words >> word; last = word)
        if (last == "at") address = word;
      RPCP_REQUIRE(!address.empty(), "scontrol ping named no controller: ", last_line(shown.err));
    }
    auto executor = co_await asio::this_coro::executor;
    co_return local_address_towards(executor, address);
  }

  std::string node_;
  mutable slurm::options how_;          // its executable becomes the broadcast copy; one I/O thread
  mutable std::string master_address_;  // set once the check passed; one I/O thread
  mutable one_at_a_time checking_;      // held by the spawn checking now
};

}  // namespace
}  // namespace detail

how_to_run slurm::step(std::string node, options how) {
  return how_to_run::through(
      std::make_shared<detail::step_launcher>(std::move(node), std::move(how)));
}

}  // namespace rpc_parallel
