#include "rpc_parallel/app.hpp"

#include "rpc_parallel/error.hpp"

#include "rpc_parallel/detail/interruption.hpp"
#include "rpc_parallel/detail/pid1.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/detail/worker_main.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>

#include <cstring>
#include <iostream>

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
      "deadline of a call that has none of its own (default 0: none)");
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
  return rpc_settings_from_environment(s);
}

bool is_worker_invocation(int argc, char** argv) {
  return argc >= 2 && std::strcmp(argv[1], detail::worker_argv_marker) == 0 &&
         detail::spawned_as_worker();
}

int run_master(const detail::type_registry& types, rpc_settings settings,
               std::function<asio::awaitable<int>()> main) {
  asio::io_context io(1);
  int code = 1;
  {
    detail::node self(
        io.get_executor(),
        detail::node_config{
            detail::make_secret(), settings, {detail::worker_argv_marker}, true, types});
    detail::interruption_handler interruptions(io.get_executor());
    asio::co_spawn(io, std::move(main), [&](std::exception_ptr e, int result) {
      code = result;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::cerr << "error: " << ex.what() << std::endl;
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
  detail::become_init_if_pid1();
  po::options_description all;
  all.add(options).add(framework_options());
  // clang-format off: one option per line
  all.add_options()("help", "print this help");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    // --help before notify(): a required option the user has not given is no error then.
    if (vm.count("help")) {
      std::cout << all << std::endl;
      return 0;
    }
    po::notify(vm);
    settings = settings_from(vm, settings);
  } catch (const po::error& e) {
    std::cerr << "error: " << e.what() << "\n" << all << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  return run_master(types_, settings, [&main, &vm] { return main(vm); });
}

int app::run(int argc, char** argv, std::function<asio::awaitable<int>()> main,
             rpc_settings settings) const {
  po::options_description none("options");
  return run(
      argc, argv, none, [&main](const po::variables_map&) { return main(); }, settings);
}

}  // namespace rpc_parallel
