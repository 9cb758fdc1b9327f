#include "rpc_parallel/app.hpp"

#include "rpc_parallel/error.hpp"
#include "rpc_parallel/joins.hpp"

#include "rpc_parallel/detail/interruption.hpp"
#include "rpc_parallel/detail/join_worker.hpp"
#include "rpc_parallel/detail/log_lines.hpp"
#include "rpc_parallel/detail/pid1.hpp"
#include "rpc_parallel/detail/status_endpoint.hpp"
#include "rpc_parallel/detail/status_tool.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/detail/worker_main.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>

#include <sys/stat.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>

namespace rpc_parallel {
namespace asio = boost::asio;
namespace po = boost::program_options;

namespace {

// The framework's own options; each overrides the app's setting (the environment variable
// overrides both).
po::options_description framework_options() {
  po::options_description o("rpc_parallel options");
  // clang-format off: one option per line
  o.add_options()("rpc-max-message-size", po::value<std::uint64_t>(),
                  "largest frame in bytes (default 100 MiB)")(
      "rpc-handshake-timeout-ms", po::value<std::int64_t>(), "connection handshake deadline")(
      "rpc-heartbeat-interval-ms", po::value<std::int64_t>(), "keepalive probe interval")(
      "rpc-heartbeat-timeout-ms", po::value<std::int64_t>(), "a silent peer is dead after this")(
      "rpc-stream-window", po::value<std::uint64_t>(),
      "bytes a stream may run ahead of its reader (default 8 MiB)")(
      "rpc-call-timeout-ms", po::value<std::int64_t>(),
      "deadline of a call that has none of its own (default 0: none)")(
      "rpc-join", po::value<std::string>(),
      "join a running master as a worker: ADDRESS:PORT, or its rendezvous file")(
      "rpc-secret-file", po::value<std::string>(),
      "with --rpc-join: the secret, in hex (mode 0600)")(
      "rpc-worker", po::value<std::string>(), "with --rpc-join: serve only this worker type")(
      "rpc-join-timeout-ms", po::value<std::int64_t>(),
      "how long a joiner looks for its master (default 60000)")(
      "rpc-rank", po::value<std::size_t>(), "symmetric launch: this copy's rank (0: the master)")(
      "rpc-size", po::value<std::size_t>(), "symmetric launch: how many copies run")(
      "rpc-rendezvous", po::value<std::string>(),
      "symmetric launch: the rendezvous file, on a path every copy sees")(
      "rpc-metrics-port", po::value<int>(),
      "serve Prometheus metrics on this port (0: any free one; loopback unless "
      "--rpc-metrics-address)")("rpc-metrics-address", po::value<std::string>(),
                                "where --rpc-metrics-port listens")(
      "rpc-metrics-file", po::value<std::string>(), "write the metrics to this file at exit")(
      "rpc-log-json", "the framework's messages, write_log's and workers' stderr as JSON lines")(
      "rpc-trace", po::value<std::string>(),
      "write a trace of spawns, calls, streams and map batches to this file (ui.perfetto.dev)")(
      "rpc-status", po::value<std::string>()->implicit_value(""),
      "[PID] [--json]: what a running master of yours and its workers do (PID: when several run)")(
      "rpc-stacks", po::value<std::string>()->implicit_value(""),
      "[PID] [--json]: the stacks of a running master's threads and of its workers'");
  // clang-format on
  return o;
}

rpc_settings settings_from(const po::variables_map& vm, rpc_settings s) {
  using ms = std::chrono::milliseconds;
  if (vm.count("rpc-max-message-size"))
    s.max_message_size = vm["rpc-max-message-size"].as<std::uint64_t>();
  if (vm.count("rpc-handshake-timeout-ms"))
    s.handshake_timeout = ms(vm["rpc-handshake-timeout-ms"].as<std::int64_t>());
  if (vm.count("rpc-heartbeat-interval-ms"))
    s.heartbeat_interval = ms(vm["rpc-heartbeat-interval-ms"].as<std::int64_t>());
  if (vm.count("rpc-heartbeat-timeout-ms"))
    s.heartbeat_timeout = ms(vm["rpc-heartbeat-timeout-ms"].as<std::int64_t>());
  if (vm.count("rpc-stream-window")) s.stream_window = vm["rpc-stream-window"].as<std::uint64_t>();
  if (vm.count("rpc-call-timeout-ms"))
    s.call_timeout = ms(vm["rpc-call-timeout-ms"].as<std::int64_t>());
  if (vm.count("rpc-metrics-port")) s.metrics_port = vm["rpc-metrics-port"].as<int>();
  if (vm.count("rpc-metrics-address"))
    s.metrics_address = vm["rpc-metrics-address"].as<std::string>();
  if (vm.count("rpc-metrics-file")) s.metrics_file = vm["rpc-metrics-file"].as<std::string>();
  if (vm.count("rpc-log-json")) s.json_logs = true;
  if (vm.count("rpc-trace")) s.trace_file = vm["rpc-trace"].as<std::string>();
  return rpc_settings_from_environment(s);
}

// A symmetric launch, from the flags or the launcher's environment: srun's, Open MPI's, PMI's,
// or a Kubernetes Indexed Job's index with --rpc-size. Only with more than one copy.
struct symmetric_launch {
  std::size_t rank = 0, size = 1;
  std::string rendezvous;
};

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

std::optional<symmetric_launch> symmetric_from(const po::variables_map& vm) {
  symmetric_launch s;
  static constexpr std::pair<const char*, const char*> launchers[] = {
      {"SLURM_PROCID", "SLURM_STEP_NUM_TASKS"},
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
      {"PMI_RANK", "PMI_SIZE"},
      {"JOB_COMPLETION_INDEX", nullptr}};
  bool found = false;
  for (auto [rank, size] : launchers) {
    if (!env(rank) || (size && !env(size))) continue;
    s.rank = std::stoul(env(rank));
    s.size = size ? std::stoul(env(size)) : 1;
    found = true;
    break;
  }
  if (vm.count("rpc-rank")) s.rank = vm["rpc-rank"].as<std::size_t>();
  if (vm.count("rpc-size")) s.size = vm["rpc-size"].as<std::size_t>();
  if ((!found && !vm.count("rpc-size")) || s.size < 2) return std::nullopt;
  RPCP_REQUIRE(s.rank < s.size, "symmetric launch: rank ", s.rank, " of only ", s.size, " copies");
  if (vm.count("rpc-rendezvous")) {
    s.rendezvous = vm["rpc-rendezvous"].as<std::string>();
    return s;
  }
  std::string job;
  if (env("SLURM_JOB_ID"))
    job = std::string(env("SLURM_JOB_ID")) + "." +
          (env("SLURM_STEP_ID") ? env("SLURM_STEP_ID") : "0");
  else if (env("OMPI_MCA_ess_base_jobid"))
    job = env("OMPI_MCA_ess_base_jobid");
  RPCP_REQUIRE(!job.empty() && env("HOME"),
               "symmetric launch: name the rendezvous file with --rpc-rendezvous FILE, on a path "
               "every copy sees (no job id to name one after)");
  std::string dir = std::string(env("HOME")) + "/.rpc_parallel";
  ::mkdir(dir.c_str(), 0700);
  s.rendezvous = dir + "/rendezvous-" + job;
  return s;
}

bool is_worker_invocation(int argc, char** argv) {
  return argc >= 2 && std::strcmp(argv[1], detail::worker_argv_marker) == 0 &&
         detail::spawned_as_worker();
}

// Written whole or not at all (a scraper of the file never reads half of it).
void write_metrics_file(detail::status_endpoint& window, const std::string& path,
                        std::chrono::milliseconds timeout) {
  try {
    std::string text = window.metrics_now(timeout);
    std::string partial = path + ".partial";
    {
      std::ofstream out(partial, std::ios::trunc);
      out << text;
      out.close();
      RPCP_REQUIRE(out, "cannot write ", partial);
    }
    RPCP_REQUIRE(std::rename(partial.c_str(), path.c_str()) == 0, "cannot rename ", partial, " to ",
                 path, ": ", std::strerror(errno));
  } catch (const std::exception& e) {
    detail::say(log_level::error,
                "rpc_parallel: ", "no --rpc-metrics-file " + path + ": " + e.what());
  }
}

int run_master(const detail::type_registry& types, rpc_settings settings,
               std::function<asio::awaitable<int>()> main) {
  asio::io_context io(1);
  int code = 1;
  {
    std::optional<detail::node> made;
    try {
      made.emplace(io.get_executor(),
                   detail::node_config{
                       detail::make_secret(), settings, {detail::worker_argv_marker}, true, types});
    } catch (const std::exception& e) {
      detail::say(log_level::error, "error: ", e.what());
      return 2;
    }
    detail::node& self = *made;
    detail::interruption_handler interruptions(io.get_executor());
    detail::status_endpoint window(self);
    // `APP --rpc-status` from another terminal; an app that cannot have one still runs.
    try {
      window.serve_status();
    } catch (const std::exception& e) {
      detail::say(log_level::error,
                  "rpc_parallel: ", std::string("no --rpc-status for this run: ") + e.what());
    }
    if (settings.metrics_port >= 0) {
      try {
        std::string url = window.serve_metrics(settings.metrics_address, settings.metrics_port);
        detail::say(log_level::info, "rpc_parallel: ", "metrics at " + url);
      } catch (const std::exception& e) {
        detail::say(log_level::error, "error: ", e.what());
        return 2;
      }
    }
    asio::co_spawn(io, std::move(main), [&](std::exception_ptr e, int result) {
      // While its workers still answer: the figures of the whole run.
      if (!settings.metrics_file.empty())
        write_metrics_file(window, settings.metrics_file, 2 * settings.handshake_timeout);
      code = result;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          detail::say(log_level::error, "error: ", ex.what());
        }
        // Ended by a SIGTERM or SIGINT it drained for: the status of a death by that signal.
        int signal = detail::interrupting_signal();
        code = signal ? 128 + signal : 1;
      }
      io.stop();
    });
    io.run();
  }
  return code;
}

}  // namespace

void app::add(const detail::worker_type_entry& entry) {
  auto [it, added] = types_.emplace(entry.name, &entry);
  RPCP_REQUIRE(added || it->second == &entry, "two worker types are named \"", entry.name,
               "\"; worker type names must be unique in an app");
}

int app::run(int argc, char** argv, const po::options_description& options, master_main main,
             rpc_settings settings) const {
  if (is_worker_invocation(argc, argv)) return detail::run_worker_role(types_);
  // The binary as the tool that looks into a running master: none of the app's options apply.
  if (detail::asks_for_status_tool(argc, argv)) return detail::run_status_tool(argc, argv);
  detail::become_init_if_pid1();
  po::options_description all;
  all.add(options).add(framework_options());
  // clang-format off: one option per line
  all.add_options()("help", "print this help");
  // clang-format on
  po::variables_map vm;
  std::optional<symmetric_launch> symmetric;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    // --help before notify(): a required option the user has not given is no error then.
    if (vm.count("help")) {
      std::cout << all << std::endl;
      return 0;
    }
    settings = settings_from(vm, settings);
    // A joiner, or a symmetric copy other than rank 0, is a worker: the app's own options
    // (required ones included) are the master's business.
    detail::join_settings join;
    join.settings = settings;
    if (vm.count("rpc-secret-file")) join.secret_file = vm["rpc-secret-file"].as<std::string>();
    if (vm.count("rpc-worker")) join.type = vm["rpc-worker"].as<std::string>();
    if (vm.count("rpc-join-timeout-ms"))
      join.timeout = std::chrono::milliseconds(vm["rpc-join-timeout-ms"].as<std::int64_t>());
    if (vm.count("rpc-join")) {
      join.target = vm["rpc-join"].as<std::string>();
      return detail::run_join_role(types_, std::move(join));
    }
    symmetric = symmetric_from(vm);
    if (symmetric && symmetric->rank != 0) {
      join.target = symmetric->rendezvous;
      join.who =
          "rank " + std::to_string(symmetric->rank) + " of " + std::to_string(symmetric->size);
      return detail::run_join_role(types_, std::move(join));
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "error: " << e.what() << "\n" << all << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  if (!symmetric) return run_master(types_, settings, [&main, &vm] { return main(vm); });
  // Rank 0: open to the other copies before the master's main runs.
  // master_main gets its peers as a ready pool: it starts once every copy has joined, or after
  // the join timeout with those that did.
  std::chrono::milliseconds wait = std::chrono::seconds(60);
  if (vm.count("rpc-join-timeout-ms"))
    wait = std::chrono::milliseconds(vm["rpc-join-timeout-ms"].as<std::int64_t>());
  return run_master(types_, settings, [&main, &vm, &symmetric, wait]() -> asio::awaitable<int> {
    joins opened = joins::open(join_options().with_rendezvous_file(symmetric->rendezvous));
    std::size_t peers = symmetric->size - 1;
    detail::node::current().symmetric_peers = peers;
    bool all = co_await opened.wait_for(peers, wait);
    if (!all)
      std::cerr << "rpc_parallel: only " << opened.waiting() << " of the " << peers
                << " other copies joined within " << wait.count()
                << " ms (--rpc-join-timeout-ms); the master starts with those" << std::endl;
    co_return co_await main(vm);
  });
}

int app::run(int argc, char** argv, std::function<asio::awaitable<int>()> main,
             rpc_settings settings) const {
  po::options_description none("options");
  return run(
      argc, argv, none, [&main](const po::variables_map&) { return main(); }, settings);
}

}  // namespace rpc_parallel
