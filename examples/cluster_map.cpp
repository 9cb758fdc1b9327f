// One map-reduce, three ways onto a cluster: the sum of the squares below --below, and the
// hosts that did the work. A host name is mapped with each square, so the output shows where.
//   salloc -N 3 cluster_map --slurm       workers as steps on every CPU of the allocation
//   srun -n 4 cluster_map                 a symmetric launch: rank 0 maps on the other three
//   cluster_map --accept-joins FILE N     waits for N workers started elsewhere with
//                                         `cluster_map --rpc-join FILE` (FILE on a shared path)
// docs/clusters.md walks through each.
#include <rpc_parallel/joins.hpp>
#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/rpc_parallel.hpp>
#include <rpc_parallel/slurm.hpp>

#include <boost/program_options.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>

#include <unistd.h>
#include <cstdint>
#include <iostream>
#include <ranges>
#include <set>
#include <string>
#include <utility>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

/// x squared, and the host that squared it.
struct square_where {
  static constexpr std::string_view name = "square_where";
  using input = std::int64_t;
  using accum = std::pair<std::int64_t, std::set<std::string>>;
  static accum map(input x) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return {x * x, {host}};
  }
  static accum combine(accum a, accum b) {
    a.second.merge(b.second);
    return {a.first + b.first, std::move(a.second)};
  }
};

// Where the workers are: the allocation's CPUs, the symmetric peers, or the joiners.
rp::map_config where(const po::variables_map& options) {
  if (options.count("slurm")) return rp::slurm::allocation::current().map_config();
  if (options.count("accept-joins")) {
    auto joins = rp::joins::open(
        rp::join_options().with_rendezvous_file(options["accept-joins"].as<std::string>()));
    return rp::map_config().with_local(0).with_remote(joins.how(),
                                                      options["joiners"].as<std::size_t>());
  }
  rp::symmetric_peers peers = rp::peers();  // throws unless started by srun -n N (N > 1)
  return rp::map_config().with_local(0).with_remote(peers.how, peers.count);
}

asio::awaitable<int> master_main(const po::variables_map& options) {
  auto below = options["below"].as<std::int64_t>();
  rp::map_config config = where(options);
  auto result = co_await rp::map_reduce<square_where>(
      std::move(config), std::views::iota(std::int64_t(0), below), rp::unit{});
  std::cout << "sum of squares below " << below << ": " << result->first << "\nhosts:";
  for (const auto& host : result->second) std::cout << " " << host;
  std::cout << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<rp::map_worker<square_where>>();
  po::options_description options("cluster_map options");
  options.add_options()("below", po::value<std::int64_t>()->default_value(100'000), "numbers")(
      "slurm", "map over the Slurm allocation this runs in")(
      "accept-joins", po::value<std::string>(), "map on workers that join through this file")(
      "joiners", po::value<std::size_t>()->default_value(1), "with --accept-joins: how many");
  return app.run(argc, argv, options, master_main);
}
