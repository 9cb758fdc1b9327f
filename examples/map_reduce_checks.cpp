// Rpc_parallel's map-reduce qtests, on 5 local workers: map_unordered and map of x + param, a
// commutative sum, an ordered concatenation, and closing the output early. Prints one
// "ok: <what>" line per check, or "FAILED: <what>" and exits 1.
#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <ranges>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

/// x + param.
struct add_param {
  static constexpr std::string_view name = "add_param";
  using param = std::int64_t;
  using state = std::int64_t;
  using input = std::int64_t;
  using output = std::int64_t;
  static state init(param p, std::uint64_t) { return p; }
  static output map(state& p, const input& x) { return x + p; }
};

/// param times the sum of a list.
struct scaled_sum {
  static constexpr std::string_view name = "scaled_sum";
  using param = std::int64_t;
  using state = std::int64_t;
  using input = std::vector<std::int64_t>;
  using accum = std::int64_t;
  static state init(param p, std::uint64_t) { return p; }
  static accum map(state& p, const input& xs) {
    return p * std::accumulate(xs.begin(), xs.end(), std::int64_t(0));
  }
  static accum combine(accum a, accum b) { return a + b; }
};

/// [x], concatenated: the result shows the order of combination.
struct concat {
  static constexpr std::string_view name = "concat";
  using input = std::int64_t;
  using accum = std::vector<std::int64_t>;
  static accum map(const input& x) { return {x}; }
  static accum combine(accum a, accum b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
};

bool report(bool ok, const std::string& what) {
  std::cout << (ok ? "ok: " : "FAILED: ") << what << std::endl;
  return ok;
}

std::vector<std::int64_t> iota_vector(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(last - first));
  std::iota(v.begin(), v.end(), first);
  return v;
}

asio::awaitable<void> pause_100ms() {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<bool> map_unordered_gives_each_output_with_its_index() {
  std::vector<std::int64_t> outputs, indexes;
  auto keep = [&outputs, &indexes](std::uint64_t index, std::int64_t y) {
    indexes.push_back(static_cast<std::int64_t>(index));
    outputs.push_back(y);
  };
  co_await rp::map_unordered<add_param>(rp::map_config().with_local(5), std::views::iota(0, 1000),
                                        std::int64_t(1000), keep);
  std::ranges::sort(outputs);
  std::ranges::sort(indexes);
  co_return report(outputs == iota_vector(1000, 2000) && indexes == iota_vector(0, 1000),
                   "map_unordered of x + 1000 over 0..999 gives 1000..1999, indexes 0..999");
}

asio::awaitable<bool> map_keeps_input_order() {
  auto outputs = co_await rp::map<add_param>(rp::map_config().with_local(5),
                                             std::views::iota(0, 1000), std::int64_t(1000));
  co_return report(outputs == iota_vector(1000, 2000),
                   "map of x + 1000 over 0..999 gives 1000..1999 in order");
}

asio::awaitable<bool> map_reduce_commutative_sums() {
  // Inputs [0..m-1] for m < 1000, made as the workers ask for them.
  auto lists =
      std::views::iota(0, 1000) | std::views::transform([](int m) { return iota_vector(0, m); });
  auto total = co_await rp::map_reduce_commutative<scaled_sum>(rp::map_config().with_local(5),
                                                               lists, std::int64_t(2));
  std::int64_t expected = 0;
  for (std::int64_t m = 0; m < 1000; ++m) expected += 2 * (m * (m - 1) / 2);
  co_return report(total == expected, "map_reduce_commutative of 2 x sum [0..m-1], m < 1000, is " +
                                          std::to_string(expected));
}

asio::awaitable<bool> map_reduce_combines_in_order() {
  auto joined = co_await rp::map_reduce<concat>(rp::map_config().with_local(5).with_batch_size(7),
                                                std::views::iota(0, 1000), rp::unit{});
  co_return report(joined == iota_vector(0, 1000), "map_reduce of concatenation gives 0..999");
}

asio::awaitable<bool> closing_the_output_early_does_not_crash() {
  std::int64_t unordered_seen = 0, ordered_seen = 0;
  auto take_one_unordered = [&unordered_seen](std::uint64_t, std::int64_t) {
    return ++unordered_seen < 1;
  };
  auto take_one_ordered = [&ordered_seen](std::uint64_t, std::int64_t) {
    return ++ordered_seen < 1;
  };
  co_await rp::map_unordered<add_param>(rp::map_config().with_local(1), std::views::iota(0, 1000),
                                        std::int64_t(1000), take_one_unordered);
  co_await pause_100ms();
  co_await rp::map<add_param>(rp::map_config().with_local(1), std::views::iota(0, 1000),
                              std::int64_t(1000), take_one_ordered);
  co_await pause_100ms();
  co_return report(unordered_seen == 1 && ordered_seen == 1,
                   "closing map_unordered's and map's output after one result does not crash");
}

asio::awaitable<int> master_main() {
  bool ok = co_await map_unordered_gives_each_output_with_its_index();
  ok = co_await map_keeps_input_order() && ok;
  ok = co_await map_reduce_commutative_sums() && ok;
  ok = co_await map_reduce_combines_in_order() && ok;
  ok = co_await closing_the_output_early_does_not_crash() && ok;
  co_return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<rp::map_worker<add_param>>()
      .add_worker<rp::map_worker<scaled_sum>>()
      .add_worker<rp::map_worker<concat>>();
  return app.run(argc, argv, master_main);
}
