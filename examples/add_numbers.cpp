// Map-reduce's map and map_unordered (Rpc_parallel's add_numbers). Each input (i, max) busy-spins
// for --spin iterations, then returns (i, sum of 0..max-1). Prints "i: sum" in input order; with
// --unordered, "index:i: sum" as results finish, checking that each index is its input's i.
// `--max 100 --ntimes 10` prints "0: 4950" to "9: 4950".
#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/program_options.hpp>

#include <cstdint>
#include <iostream>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

struct add_numbers {
  static constexpr std::string_view name = "add_numbers";
  using param = std::int64_t;  // iterations to spin per input
  struct state {
    std::int64_t spin;
  };
  using input = std::pair<std::int64_t, std::int64_t>;   // (i, max)
  using output = std::pair<std::int64_t, std::int64_t>;  // (i, sum of 0..max-1)

  static state init(param spin, std::uint64_t /*worker_index*/) { return {spin}; }
  static output map(state& s, const input& x) {
    // Stands for real work; volatile keeps the compiler from skipping it.
    volatile std::int64_t busy = 0;
    for (std::int64_t k = 0; k < s.spin; ++k) busy = busy + 1;
    std::int64_t sum = 0;
    for (std::int64_t k = 0; k < x.second; ++k) sum += k;
    return {x.first, sum};
  }
};

asio::awaitable<int> master_main(const po::variables_map& options) {
  std::int64_t max = options["max"].as<std::int64_t>();
  std::int64_t ntimes = options["ntimes"].as<std::int64_t>();
  std::int64_t spin = options["spin"].as<std::int64_t>();
  auto config = rp::map_config().with_local(options["nworkers"].as<std::size_t>());
  // Inputs are made as the workers ask for them.
  auto inputs = std::views::iota(std::int64_t(0), ntimes) |
                std::views::transform([max](std::int64_t i) { return std::make_pair(i, max); });

  if (!options["unordered"].as<bool>()) {
    auto print = [](std::uint64_t, add_numbers::output result) {
      std::cout << result.first << ": " << result.second << "\n";
    };
    co_await rp::map<add_numbers>(std::move(config), inputs, spin, print);
  } else {
    auto print = [](std::uint64_t index, add_numbers::output result) {
      if (static_cast<std::int64_t>(index) != result.first)
        throw std::logic_error("index " + std::to_string(index) + " got the result of " +
                               std::to_string(result.first));
      std::cout << index << ":" << result.first << ": " << result.second << "\n";
    };
    co_await rp::map_unordered<add_numbers>(std::move(config), inputs, spin, print);
  }
  std::cout << std::flush;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<rp::map_worker<add_numbers>>();
  po::options_description options("add_numbers");
  // clang-format off: one option per line
  options.add_options()("max", po::value<std::int64_t>()->required(), "each input sums 0..max-1")(
      "ntimes", po::value<std::int64_t>()->default_value(1000), "number of inputs")(
      "nworkers", po::value<std::size_t>()->default_value(4), "local workers")(
      "spin", po::value<std::int64_t>()->default_value(10'000'000), "busy iterations per input")(
      "unordered", po::bool_switch(), "print results as they finish, with their index");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
