// Two map-reduce calls chained (Rpc_parallel's number_stats). First map_unordered makes --nblocks
// blocks of random numbers, atan(uniform(0, 100))^6, each worker from its own seeded generator;
// then map_reduce folds the blocks into running statistics with an associative merge. Prints
// "Samples: N" (nblocks x block-size), "Mean: x" and "Variance: y".
#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/program_options.hpp>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <optional>
#include <random>
#include <ranges>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

/// One block of random numbers per input; the generator lives in the worker's state.
struct random_block {
  static constexpr std::string_view name = "random_block";
  using param = std::uint32_t;  // numbers per block
  struct state {
    std::uint32_t size;
    std::mt19937_64 generator;
  };
  using input = rp::unit;
  using output = std::vector<double>;

  static state init(param size, std::uint64_t worker_index) {
    return {size, std::mt19937_64(worker_index + 1)};
  }
  static output map(state& s, rp::unit) {
    std::uniform_real_distribution<double> uniform(0, 100);
    output block(s.size);
    for (double& x : block) x = std::pow(std::atan(uniform(s.generator)), 6);
    return block;
  }
};

/// Count, mean and sum of squared deviations (Welford); `merge` is Chan et al.'s parallel form.
struct stats {
  std::uint64_t samples = 0;
  double mean = 0;
  double m2 = 0;

  double variance() const { return samples > 1 ? m2 / static_cast<double>(samples - 1) : 0; }
  static stats merge(const stats& a, const stats& b) {
    if (a.samples == 0) return b;
    if (b.samples == 0) return a;
    double na = static_cast<double>(a.samples), nb = static_cast<double>(b.samples);
    double delta = b.mean - a.mean;
    return {a.samples + b.samples, a.mean + delta * nb / (na + nb),
            a.m2 + b.m2 + delta * delta * na * nb / (na + nb)};
  }
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& samples& mean& m2;
  }
};

struct block_stats {
  static constexpr std::string_view name = "block_stats";
  using input = std::vector<double>;
  using accum = stats;
  static accum map(const input& block) {
    stats s;
    for (double x : block) s = stats::merge(s, {1, x, 0});
    return s;
  }
  static accum combine(accum a, accum b) { return stats::merge(a, b); }
};

asio::awaitable<int> master_main(const po::variables_map& options) {
  std::size_t nworkers = options["nworkers"].as<std::size_t>();
  std::vector<rp::unit> blocks_to_make(options["nblocks"].as<std::size_t>());
  std::vector<std::vector<double>> blocks;
  auto keep = [&blocks](std::uint64_t, std::vector<double> block) {
    blocks.push_back(std::move(block));
  };
  co_await rp::map_unordered<random_block>(rp::map_config().with_local(nworkers),
                                           std::views::all(blocks_to_make),
                                           options["block-size"].as<std::uint32_t>(), keep);

  // The blocks are folded in the order they arrived; --commutative lets the merge take any order.
  std::optional<stats> total;
  if (options["commutative"].as<bool>())
    total = co_await rp::map_reduce_commutative<block_stats>(rp::map_config().with_local(nworkers),
                                                             std::views::all(blocks), rp::unit{});
  else
    total = co_await rp::map_reduce<block_stats>(rp::map_config().with_local(nworkers),
                                                 std::views::all(blocks), rp::unit{});
  stats result = total.value_or(stats{});
  std::cout << "Samples: " << result.samples << "\nMean: " << result.mean
            << "\nVariance: " << result.variance() << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<rp::map_worker<random_block>>().add_worker<rp::map_worker<block_stats>>();
  po::options_description options("number_stats");
  // clang-format off: one option per line
  options.add_options()("nblocks", po::value<std::size_t>()->default_value(100),
                        "blocks of random numbers")(
      "block-size", po::value<std::uint32_t>()->default_value(50'000), "numbers per block")(
      "nworkers", po::value<std::size_t>()->default_value(4), "local workers")(
      "commutative", po::bool_switch(), "map_reduce_commutative instead of map_reduce");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
