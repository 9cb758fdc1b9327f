// How a spawn starts its worker process: on this host, over ssh, or (later) through a scheduler.
#pragma once

#include "rpc_parallel/detail/process.hpp"
#include "rpc_parallel/how_to_run.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rpc_parallel::detail {

/// `RPC_PARALLEL_PROBE=1 ./binary` prints `probe_answer` and exits 0 before `main` runs: how a
/// launcher checks that a host can execute this binary (not mounted noexec, its shared libraries
/// present, the right architecture) without running the program.
inline constexpr const char* probe_env_var = "RPC_PARALLEL_PROBE";
inline constexpr const char* probe_answer = "rpc_parallel probe ok";

struct launch_request {
  std::vector<std::string> argv;  ///< The worker's argv; argv[0] is replaced by the launcher.
  std::vector<std::pair<std::string, std::string>> env;  ///< The spawn option's additions.
  std::vector<std::string> wrapper;                      ///< how_to_run::wrap's program and args.
  bool pipe_stdout = false;  ///< In the foreground, or when its output goes to the spawner.
};

/// What `prepare` found for one launch, handed to that launch.
struct prepared_launch {
  std::string master_address;     ///< What a worker there dials to reach this process.
  std::uint16_t master_port = 0;  ///< The port it dials there; 0: the master server's.
  /// What the launch holds while its worker lives (room on an ssh connection, say); given back
  /// when the last owner drops it, so a launch that never happens leaks nothing.
  std::shared_ptr<void> hold;
};

/// Implemented here for this host (`local_launcher`) and by remote/ for ssh.
class join_queue;

class launcher {
 public:
  virtual ~launcher() = default;

  /// Before launching: checks that the target can run this binary (throws `rpc_error` naming
  /// the host and what to do), and finds the address a worker there dials to reach this
  /// process, whose master server listens on `master_port`. `lasting`: the launch keeps its
  /// channel open for the worker's life (its output comes back through it).
  virtual boost::asio::awaitable<prepared_launch> prepare(std::uint16_t master_port,
                                                          bool lasting) const = 0;

  /// Starts the worker as `prepared` said; its stdin, stderr (and stdout when asked) are pipes
  /// to us, as for a local worker. They stay open for as long as the worker keeps them. Throws
  /// `rpc_error`.
  virtual launched launch(const launch_request& request, prepared_launch prepared) const = 0;

  /// "host h1", for error messages.
  virtual std::string where() const = 0;
  /// "h1": the host, as the prefix of the worker's forwarded output names it.
  virtual std::string host() const = 0;
  /// Whether the worker's output comes back to the spawner unless the spawn says otherwise (a
  /// remote one's, so that its errors are seen; a local one's goes to /dev/null).
  virtual bool forwards_output_by_default() const = 0;
  /// Whether the launched process (an ssh client) carries the worker's forwarded output, and so
  /// lives as long as the worker whenever any of it is forwarded.
  virtual bool carries_output() const = 0;
  /// Whether the worker must stay the launched process's own, never a daemon: a scheduler ends
  /// a step with its process tree and tracks it by cgroup, so a worker that escaped would be
  /// killed or left holding the step's resources. The launched process then lives as long as
  /// the worker (and carries its output).
  virtual bool keeps_worker_in_foreground() const { return false; }
  /// What the end of the launched process's stderr says about the worker's end (a scheduler's
  /// "step cancelled" line, say), for its death report; empty when it says nothing.
  virtual std::string cause_of_death(const std::string& /*stderr_tail*/) const { return {}; }
  /// Why a launched process exited before its worker registered, beyond its stderr (which
  /// `stderr_tail` is): a scheduler's word on a job that has ended, say. Empty: nothing more.
  virtual boost::asio::awaitable<std::string> explain_failed_start(std::string stderr_tail) const;
  /// Non-null for joins (join_queue.hpp): the spawn takes a joined worker from there, and
  /// `prepare` and `launch` are not called.
  virtual join_queue* joins() const { return nullptr; }
  /// Where this process connects to reach a worker it launched that listens on `port` and
  /// whose link came from `host`: that, unless the launcher tunnels.
  virtual boost::asio::awaitable<std::pair<std::string, std::uint16_t>> reach_worker(
      std::string host, std::uint16_t port) const;
};

/// This binary on this host, through `launch_self`: what `how_to_run::local()` means.
const launcher& local_launcher();

/// The launcher `how` names: its own, or the local one.
const launcher& launcher_of(const how_to_run& how);

}  // namespace rpc_parallel::detail
