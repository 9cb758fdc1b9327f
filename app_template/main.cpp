// The demo app: one binary that is both master and worker. It counts the primes below --below
// with map-reduce: the numbers are cut into ranges of 10,000, workers count the primes in each
// range, and the counts are added up. The workers run on this host (one per core by default)
// and, with --remote HOST..., on those hosts too. A progress bar shows on a terminal.
#include "count_primes.hpp"

#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/remote.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;

constexpr std::int64_t range_size = 10'000;

// Where the workers run: --workers here, and --remote-workers (default: as many) on each
// --remote host, where this binary is copied to /tmp first (once: a copy already there is kept).
asio::awaitable<rpc_parallel::map_config> where_to_run(const po::variables_map& options) {
  auto local = options["workers"].as<std::size_t>();
  auto config = rpc_parallel::map_config().with_local(local).with_progress_bar(true);
  if (!options.count("remote")) co_return config;
  auto ssh = rpc_parallel::ssh_options();
  if (options.count("ssh-config")) ssh.config_file = options["ssh-config"].as<std::string>();
  auto per_host =
      options.count("remote-workers") ? options["remote-workers"].as<std::size_t>() : local;
  for (const auto& host : options["remote"].as<std::vector<std::string>>()) {
    auto copy =
        co_await rpc_parallel::copy_to_host(host, rpc_parallel::copy_options().with_ssh(ssh));
    config.remote.push_back({rpc_parallel::how_to_run::remote(copy), per_host});
  }
  co_return config;
}

asio::awaitable<int> master_main(const po::variables_map& options) {
  auto below = std::max<std::int64_t>(0, options["below"].as<std::int64_t>());
  auto config = co_await where_to_run(options);

  // The inputs [0, 10000), [10000, 20000)...: made one by one as the workers ask for them.
  auto ranges = std::views::iota(std::int64_t(0), (below + range_size - 1) / range_size) |
                std::views::transform([below](std::int64_t i) {
                  return count_primes::input(i * range_size, std::min(below, (i + 1) * range_size));
                });
  auto primes = co_await rpc_parallel::map_reduce_commutative<count_primes>(
      std::move(config), ranges, rpc_parallel::unit{});
  std::cout << "primes below " << below << ": " << primes.value_or(0) << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rpc_parallel::app app;
  app.add_worker<rpc_parallel::map_worker<count_primes>>();

  po::options_description options("demo options");
  // clang-format off: one option per line
  options.add_options()("below", po::value<std::int64_t>()->default_value(2'000'000),
                        "count the primes below this")(
      "workers", po::value<std::size_t>()->default_value(std::thread::hardware_concurrency()),
      "workers on this host (default: one per core)")(
      "remote", po::value<std::vector<std::string>>()->multitoken(),
      "also run workers on these ssh hosts")("remote-workers", po::value<std::size_t>(),
                                             "workers on each --remote host (default: --workers)")(
      "ssh-config", po::value<std::string>(), "ssh config file for --remote (ssh -F)");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
