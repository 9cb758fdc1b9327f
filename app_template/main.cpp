// The demo app: one binary that is both master and worker. Run it; it spawns local workers
// (one per core by default), calls their typed functions and prints what they return.
#include "sum_worker.hpp"

#include <rpc_parallel/remote.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/program_options.hpp>

#include <iostream>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;

// Where the workers run: this host, or round robin over --remote hosts (this binary is copied
// to each host's /tmp first, once).
asio::awaitable<std::vector<rpc_parallel::how_to_run>> placements(const po::variables_map& options) {
  std::vector<rpc_parallel::how_to_run> where;
  if (!options.count("remote")) {
    where.push_back(rpc_parallel::how_to_run::local());
    co_return where;
  }
  auto ssh = rpc_parallel::ssh_options();
  if (options.count("ssh-config")) ssh.config_file = options["ssh-config"].as<std::string>();
  for (const auto& host : options["remote"].as<std::vector<std::string>>()) {
    auto copy = co_await rpc_parallel::copy_to_host(host, rpc_parallel::copy_options().with_ssh(ssh));
    where.push_back(rpc_parallel::how_to_run::remote(copy));
  }
  co_return where;
}

asio::awaitable<int> master_main(const po::variables_map& options) {
  int workers = options["workers"].as<int>();
  std::int64_t n = options["n"].as<std::int64_t>();
  auto where = co_await placements(options);

  // Spawn the workers one after another; each exits when its connection closes.
  std::vector<rpc_parallel::connection<sum_worker>> connections;
  for (int i = 0; i < workers; ++i) {
    std::string name = "sum-" + std::to_string(i);
    auto spawn_options =
        rpc_parallel::spawn_options().with_name(name).with_how(where[i % where.size()]);
    auto connection = co_await rpc_parallel::spawn<sum_worker>(
        rpc_parallel::shutdown_on::connection_closed, std::move(spawn_options), name);
    connections.push_back(std::move(connection));
  }
  for (int i = 0; i < workers; ++i) {
    std::int64_t total = co_await connections[i].run(sum_worker::sum, n + i);
    std::cout << "sum-" << i << ": sum of 0.." << n + i - 1 << " = " << total << "\n";
  }
  for (auto& c : connections) {
    std::string text = co_await c.run(sum_worker::describe, rpc_parallel::unit{});
    std::cout << text << "\n";
  }
  co_return 0;
}

int main(int argc, char** argv) {
  rpc_parallel::app app;
  app.add_worker<sum_worker>();

  po::options_description options("demo options");
  options.add_options()
      ("workers", po::value<int>()->default_value(static_cast<int>(std::thread::hardware_concurrency())),
       "workers to spawn (default: one per core)")
      ("n", po::value<std::int64_t>()->default_value(100), "each worker sums 0..n+i-1")
      ("remote", po::value<std::vector<std::string>>()->multitoken(),
       "run the workers on these ssh hosts instead, round robin")
      ("ssh-config", po::value<std::string>(), "ssh config file for --remote (ssh -F)");
  return app.run(argc, argv, options, master_main);
}
