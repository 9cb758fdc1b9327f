#include "map_reduce.hpp"

#include "map_functions.hpp"
#include "report.hpp"

#include <rpc_parallel/map_reduce.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {
namespace {

namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace asio::experimental::awaitable_operators;

constexpr double item_seconds = 0.010;  // the CPU-bound item of the scaling figure

/// Items per second of one `rp::map` of x -> x + 1 over 0..n-1 on 2 local workers, from the
/// call (which spawns them) until the collected vector is back; every output is checked.
asio::awaitable<double> plus_one_rate(std::int64_t n) {
  auto config = rp::map_config().with_local(2);
  auto start = clock_type::now();
  std::vector<std::int64_t> out = co_await rp::map<plus_one>(
      std::move(config), std::views::iota(std::int64_t(0), n), rp::unit{});
  double elapsed = seconds_since(start);
  if (static_cast<std::int64_t>(out.size()) != n) throw std::runtime_error("map: outputs missing");
  for (std::int64_t i = 0; i < n; ++i)
    if (out[static_cast<std::size_t>(i)] != i + 1) throw std::runtime_error("map: wrong output");
  co_return static_cast<double>(n) / elapsed;
}

struct first_and_rest {
  double first_seconds;    // from the call (spawning included) to the sink's first call
  double rest_per_second;  // items per second from the first call to the last
};

/// `rp::map` over 0..n-1 on 2 local workers with a sink that notes when it first and last runs.
asio::awaitable<first_and_rest> first_result(std::int64_t n) {
  auto config = rp::map_config().with_local(2);
  std::optional<clock_type::time_point> first;
  clock_type::time_point last;
  std::int64_t seen = 0;
  auto sink = [&first, &last, &seen](std::uint64_t index, std::int64_t value) {
    last = clock_type::now();
    if (!first) first = last;
    if (value != static_cast<std::int64_t>(index) + 1)
      throw std::runtime_error("map: wrong output");
    ++seen;
  };
  auto start = clock_type::now();
  co_await rp::map<plus_one>(std::move(config), std::views::iota(std::int64_t(0), n), rp::unit{},
                             sink);
  if (seen != n || !first) throw std::runtime_error("map: outputs missing");
  co_return first_and_rest{
      std::chrono::duration<double>(*first - start).count(),
      static_cast<double>(n - 1) / std::chrono::duration<double>(last - *first).count()};
}

/// Spawns one worker of `plus_one` as `rp::map` does and runs an empty batch on it.
asio::awaitable<std::size_t> spawn_and_run_empty_batch(std::uint64_t index) {
  using worker = rp::map_worker<plus_one>;
  std::string name = std::string(plus_one::name) + "-" + std::to_string(index);
  auto conn = co_await rp::spawn<worker>(rp::shutdown_on::connection_closed,
                                         rp::spawn_options().with_name(name),
                                         std::make_pair(rp::unit{}, index));
  std::string empty;
  std::string reply = co_await conn.run(worker::run_batch, empty);
  co_return reply.size();
}

/// Seconds until 2 workers spawned at once have each answered an empty batch: the part of
/// the first result that is not the map engine's.
asio::awaitable<double> spawn_two_seconds() {
  auto start = clock_type::now();
  auto replies = co_await (spawn_and_run_empty_batch(0) && spawn_and_run_empty_batch(1));
  double elapsed = seconds_since(start);
  if (std::get<0>(replies) != 1 || std::get<1>(replies) != 1)
    throw std::runtime_error("map worker: wrong reply to an empty batch");
  co_return elapsed;
}

/// The same on a `map_pool` started beforehand, as Python's pool is: no spawning in the timing.
asio::awaitable<double> plus_one_rate_on_pool(rp::map_pool<plus_one>& pool, std::int64_t n) {
  auto start = clock_type::now();
  std::vector<std::int64_t> out =
      co_await rp::map<plus_one>(pool, std::views::iota(std::int64_t(0), n));
  double elapsed = seconds_since(start);
  if (static_cast<std::int64_t>(out.size()) != n) throw std::runtime_error("map: outputs missing");
  for (std::int64_t i = 0; i < n; ++i)
    if (out[static_cast<std::size_t>(i)] != i + 1) throw std::runtime_error("map: wrong output");
  co_return static_cast<double>(n) / elapsed;
}

asio::awaitable<void> plus_one_pool_figure(std::int64_t n, int runs) {
  auto pool = co_await rp::map_pool<plus_one>::start(rp::map_config().with_local(2), rp::unit{});
  std::vector<double> rates;
  for (int i = 0; i < runs; ++i) {
    double rate = co_await plus_one_rate_on_pool(pool, n);
    rates.push_back(rate);
  }
  report("map_pool_plus_one_" + std::to_string(n) + "_items_per_second", percentile(rates, 0.5),
         "items/s");
}

asio::awaitable<void> plus_one_figure(std::int64_t n, int runs) {
  std::vector<double> rates;
  for (int i = 0; i < runs; ++i) {
    double rate = co_await plus_one_rate(n);
    rates.push_back(rate);
  }
  report("map_plus_one_" + std::to_string(n) + "_items_per_second", percentile(rates, 0.5),
         "items/s");
}

/// Spin iterations that take `item_seconds` in this process: the best of 5 timings.
std::int64_t calibrate_iterations() {
  constexpr std::int64_t probe = 2'000'000;
  double best = 1e9;
  volatile std::uint64_t keep = 0;
  for (int i = 0; i < 5; ++i) {
    auto start = clock_type::now();
    keep = keep + spin(probe, static_cast<std::uint64_t>(i));
    best = std::min(best, seconds_since(start));
  }
  return static_cast<std::int64_t>(static_cast<double>(probe) * item_seconds / best);
}

/// Items per second of `items` busy items on `workers` local workers, spawning included.
asio::awaitable<double> busy_rate(std::size_t workers, std::int64_t items,
                                  std::int64_t iterations) {
  auto config = rp::map_config().with_local(workers);
  auto start = clock_type::now();
  std::vector<std::int64_t> out = co_await rp::map<busy_work>(
      std::move(config), std::views::iota(std::int64_t(0), items), iterations);
  double elapsed = seconds_since(start);
  if (static_cast<std::int64_t>(out.size()) != items)
    throw std::runtime_error("map: outputs missing");
  busy_work::state check{iterations};
  for (std::int64_t i : {std::int64_t(0), items - 1})
    if (out[static_cast<std::size_t>(i)] != busy_work::map(check, i))
      throw std::runtime_error("map: wrong output");
  co_return static_cast<double>(items) / elapsed;
}

/// The floor of `busy_rate`: items per second of `workers` forked processes spinning
/// `items / workers` items each, from the first fork until the last has been reaped.
double busy_floor_rate(std::size_t workers, std::int64_t items, std::int64_t iterations) {
  auto start = clock_type::now();
  std::vector<pid_t> children;
  for (std::size_t w = 0; w < workers; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) {  // only spinning before _exit: safe in a child of a threaded process
      std::uint64_t sum = 0;
      for (std::int64_t i = 0; i < items / static_cast<std::int64_t>(workers); ++i)
        sum += spin(iterations, static_cast<std::uint64_t>(i));
      ::_exit(sum == 1 ? 1 : 0);
    }
    if (pid < 0) throw std::runtime_error("fork failed");
    children.push_back(pid);
  }
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  return static_cast<double>(items) / seconds_since(start);
}

/// 1, 2, 4 ... below the cores this process may use, then that count.
std::vector<std::size_t> worker_counts() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::size_t cores = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  std::vector<std::size_t> counts{1};
  for (std::size_t w = 2; w < cores; w *= 2) counts.push_back(w);
  if (cores > 1) counts.push_back(cores);
  return counts;
}

}  // namespace

void add_map_workers(rp::app& app) {
  app.add_worker<rp::map_worker<plus_one>>();
  app.add_worker<rp::map_worker<busy_work>>();
  app.add_worker<rp::map_worker<sleepy_pid>>();
}

asio::awaitable<void> measure_map_overhead(bool quick) {
  wait_for_idle("map_overhead");
  co_await plus_one_figure(100'000, quick ? 3 : 5);
  co_await plus_one_figure(quick ? 1'000'000 : 10'000'000, quick ? 1 : 5);
  co_await plus_one_pool_figure(100'000, quick ? 3 : 5);
  co_await plus_one_pool_figure(quick ? 1'000'000 : 10'000'000, quick ? 1 : 5);
  std::vector<double> firsts, rests, spawns;
  for (int i = 0; i < (quick ? 3 : 11); ++i) {
    first_and_rest r = co_await first_result(100'000);
    firsts.push_back(r.first_seconds);
    rests.push_back(r.rest_per_second);
    double t = co_await spawn_two_seconds();
    spawns.push_back(t);
  }
  double first = percentile(firsts, 0.5) * 1e3, spawn = percentile(spawns, 0.5) * 1e3;
  report("map_first_result_median", first, "ms");
  report("map_plus_one_100000_items_per_second_after_first_result", percentile(rests, 0.5),
         "items/s");
  report("spawn_2_map_workers_and_run_empty_batch_median", spawn, "ms");
  ratio("map_first_result_vs_spawning_2_workers", first, spawn, "reported");
}

asio::awaitable<void> measure_map_scaling(bool quick) {
  wait_for_idle("map_scaling");
  const std::int64_t iterations = calibrate_iterations();
  const std::int64_t per_worker = quick ? 10 : 40;
  const int runs = quick ? 1 : 3;
  report("map_busy_item_calibrated", item_seconds * 1e3, "ms");
  double one_worker = 0, one_process = 0;
  for (std::size_t workers : worker_counts()) {
    const std::int64_t items = per_worker * static_cast<std::int64_t>(workers);
    std::vector<double> rates, floor_rates;
    for (int i = 0; i < runs; ++i) {
      double rate = co_await busy_rate(workers, items, iterations);
      rates.push_back(rate);
      floor_rates.push_back(busy_floor_rate(workers, items, iterations));
    }
    double rate = percentile(rates, 0.5), floor = percentile(floor_rates, 0.5);
    if (workers == 1) one_worker = rate, one_process = floor;
    std::string name = "map_busy_10ms_" + std::to_string(workers) + "_workers";
    std::string floor_name = "floor_busy_10ms_" + std::to_string(workers) + "_forked_processes";
    // Efficiency: speed-up over one worker / workers; and against the item's time measured in
    // this process (`item_seconds`), which also counts spawning and each item's round trip.
    double w = static_cast<double>(workers);
    double efficiency = rate / one_worker / w * 100;
    double floor_efficiency = floor / one_process / w * 100;
    report(name + "_items_per_second", rate, "items/s");
    report(name + "_efficiency", efficiency, "%");
    report(name + "_efficiency_vs_item_time", rate * item_seconds / w * 100, "%");
    report(floor_name + "_items_per_second", floor, "items/s");
    report(floor_name + "_efficiency", floor_efficiency, "%");
    std::printf(
        "ratio %s: efficiency %.1f%% (speed-up %.2fx over 1 worker; target >= 90%%), "
        "forked processes %.1f%%\n",
        name.c_str(), efficiency, rate / one_worker, floor_efficiency);
    rate_ratio(name + "_vs_forked_processes", rate, floor, "reported");
  }
}

}  // namespace bench
