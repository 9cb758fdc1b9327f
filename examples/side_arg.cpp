// A map function with per-worker init from a parameter (Rpc_parallel's side_arg). Each worker
// turns the master's message into "[<random bits>] Message from the master" once, in `init`;
// map returns it. Prints "index: [<bits>] Message from the master" for each of --ntimes inputs,
// as they finish: at most --nworkers distinct prefixes, one per worker.
#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/program_options.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <random>
#include <ranges>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

struct side_arg {
  static constexpr std::string_view name = "side_arg";
  using param = std::string;
  using state = std::string;
  using input = rp::unit;
  using output = std::string;

  static state init(param message, std::uint64_t /*worker_index*/) {
    char bits[16];
    std::snprintf(bits, sizeof bits, "[%08x] ", static_cast<unsigned>(std::random_device()()));
    return bits + message;
  }
  static output map(state& s, rp::unit) { return s; }
};

asio::awaitable<int> master_main(const po::variables_map& options) {
  std::vector<rp::unit> inputs(options["ntimes"].as<std::size_t>());
  auto print = [](std::uint64_t index, std::string text) {
    std::cout << index << ": " << text << "\n";
  };
  std::string message = "Message from the master";
  co_await rp::map_unordered<side_arg>(
      rp::map_config().with_local(options["nworkers"].as<std::size_t>()), std::views::all(inputs),
      message, print);
  std::cout << std::flush;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<rp::map_worker<side_arg>>();
  po::options_description options("side_arg");
  // clang-format off: one option per line
  options.add_options()("ntimes", po::value<std::size_t>()->default_value(100), "inputs")(
      "nworkers", po::value<std::size_t>()->default_value(4), "local workers");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
