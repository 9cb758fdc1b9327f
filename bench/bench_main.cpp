// Framework figures beside their physical floors, measured in the same run. Prints
// "name: value unit" lines and "ratio ..." lines; bench/run.sh adds the Python peer.
#include "floors.hpp"
#include "map_reduce.hpp"
#include "remote_bench.hpp"
#include "report.hpp"
#include "slurm_bench.hpp"
#include "stream_memory.hpp"
#include "stream_throughput.hpp"
#include "stream_worker.hpp"
#include "value_memory.hpp"

#include <rpc_parallel/detail/metrics.hpp>
#include <rpc_parallel/detail/trace.hpp>
#include <rpc_parallel/detail/trace_file.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/program_options.hpp>

#include <sched.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;
using bench::clock_type;
using bench::percentile;
using bench::ratio;
using bench::report;
using bench::seconds_since;

struct bench_worker {
  static constexpr std::string_view name = "bench_worker";
  static constexpr rp::rpc<bench_worker, std::int64_t, std::int64_t> ping{"ping"};
  static constexpr rp::rpc<bench_worker, std::int64_t, std::int64_t> sleep{"sleep"};
  static constexpr rp::rpc<bench_worker, bool, rp::unit> count_metrics{"count_metrics"};
  static constexpr rp::rpc<bench_worker, bool, rp::unit> trace{"trace"};
  static void implement(rp::implementations<bench_worker>& impl) {
    impl.add(ping, [](std::int64_t x) { return x + 1; });
    impl.add(count_metrics, [](bool on) {
      rp::detail::metrics::set_on(on);
      return rp::unit{};
    });
    impl.add(trace, [](bool on) {
      if (on)
        rp::detail::tracer::of_this_process().start();
      else
        rp::detail::tracer::stop();
      return rp::unit{};
    });
    impl.add(sleep, [](std::int64_t ms) -> asio::awaitable<std::int64_t> {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
      co_await timer.async_wait(asio::use_awaitable);
      co_return ms;
    });
  }
};

namespace {

asio::awaitable<double> spawn_and_answer_once() {
  auto start = clock_type::now();
  auto conn =
      co_await rp::spawn<bench_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  std::int64_t answer = co_await conn.run(bench_worker::ping, 1);
  double elapsed = seconds_since(start);
  if (answer != 2) throw std::runtime_error("wrong answer");
  co_return elapsed;
}

asio::awaitable<double> spawn_in_foreground_and_answer_once() {
  auto start = clock_type::now();
  auto spawned = co_await rp::spawn_in_foreground<bench_worker>(rp::shutdown_on::connection_closed,
                                                                rp::spawn_options());
  std::int64_t answer = co_await spawned.value.run(bench_worker::ping, 1);
  double elapsed = seconds_since(start);
  spawned.value.close();
  co_await spawned.process.wait();
  if (answer != 2) throw std::runtime_error("wrong answer");
  co_return elapsed;
}

asio::awaitable<void> measure_spawn(int samples, const std::string& suffix) {
  std::vector<double> ours, foreground, floor;
  for (int i = 0; i < samples; ++i) {
    double t = co_await spawn_and_answer_once();
    ours.push_back(t);
    t = co_await spawn_in_foreground_and_answer_once();
    foreground.push_back(t);
    floor.push_back(bench::spawn_connect_back());
  }
  double a = percentile(ours, 0.5) * 1e3, b = percentile(floor, 0.5) * 1e3;
  double f = percentile(foreground, 0.5) * 1e3;
  report("spawn_first_rpc_median" + suffix, a, "ms");
  report("spawn_in_foreground_first_rpc_median" + suffix, f, "ms");
  report("floor_posix_spawn_connect_back_median" + suffix, b, "ms");
  ratio("spawn_first_rpc" + suffix, a, b, "<= 1.5x");
  ratio("spawn_in_foreground_first_rpc" + suffix, f, b, "reported");
}

asio::awaitable<double> spawn_many_and_answer(int count) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer all(executor, asio::steady_timer::time_point::max());
  int left = count;
  auto start = clock_type::now();
  std::vector<rp::connection<bench_worker>> keep;
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(
        executor,
        [&all, &left, &keep]() -> asio::awaitable<void> {
          auto conn = co_await rp::spawn<bench_worker>(rp::shutdown_on::connection_closed,
                                                       rp::spawn_options());
          std::int64_t answer = co_await conn.run(bench_worker::ping, 1);
          if (answer == 2) keep.push_back(std::move(conn));
          if (--left == 0) all.cancel();
        },
        asio::detached);
  }
  boost::system::error_code ec;
  co_await all.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  double elapsed = seconds_since(start);
  if (static_cast<int>(keep.size()) != count) throw std::runtime_error("a worker did not answer");
  co_return elapsed;
}

asio::awaitable<void> measure_spawn_many(int count, int samples) {
  std::vector<double> ours, floor;
  for (int i = 0; i < samples; ++i) {
    double t = co_await spawn_many_and_answer(count);
    ours.push_back(t);
    floor.push_back(bench::spawn_connect_back_many(count));
  }
  double a = percentile(ours, 0.5) * 1e3, b = percentile(floor, 0.5) * 1e3;
  report("spawn_" + std::to_string(count) + "_all_answer_median", a, "ms");
  report("floor_posix_spawn_" + std::to_string(count) + "_connect_back_median", b, "ms");
  ratio("spawn_" + std::to_string(count), a, b, "<= 2x");
}

// Round trip times in seconds of `calls` pings on `conn`.
asio::awaitable<std::vector<double>> ping_times(rp::connection<bench_worker>& conn, int calls) {
  std::vector<double> times;
  for (int i = 0; i < calls; ++i) {
    auto start = clock_type::now();
    std::int64_t answer = co_await conn.run(bench_worker::ping, i);
    times.push_back(seconds_since(start));
    if (answer != i + 1) throw std::runtime_error("wrong answer");
  }
  co_return times;
}

// A call's round trip on the spawn's same-host (Unix-domain) link, and on a TCP connection to
// the same worker (as from another host), each beside the raw ping-pong on its kind of socket.
asio::awaitable<void> measure_round_trip(int calls) {
  auto conn =
      co_await rp::spawn<bench_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  rp::worker_ref over_tcp = conn.peer().ref();
  over_tcp.same_host.clear();
  auto tcp_conn = co_await rp::connect(rp::worker<bench_worker>(over_tcp));
  std::vector<double> ours = co_await ping_times(conn, calls);
  std::vector<double> ours_tcp = co_await ping_times(tcp_conn, calls);
  auto floor = bench::unix_ping_pong(calls);
  auto tcp_floor = bench::tcp_ping_pong(calls);
  double a50 = percentile(ours, 0.5) * 1e6, a99 = percentile(ours, 0.99) * 1e6;
  double b50 = percentile(floor, 0.5) * 1e6, b99 = percentile(floor, 0.99) * 1e6;
  double t50 = percentile(ours_tcp, 0.5) * 1e6, f50 = percentile(tcp_floor, 0.5) * 1e6;
  report("rpc_round_trip_p50", a50, "us");
  report("rpc_round_trip_p99", a99, "us");
  report("floor_unix_ping_pong_p50", b50, "us");
  report("floor_unix_ping_pong_p99", b99, "us");
  report("rpc_round_trip_tcp_p50", t50, "us");
  report("floor_tcp_ping_pong_p50", f50, "us");
  ratio("rpc_round_trip_p50", a50, b50, "<= 1.15x");
  ratio("rpc_round_trip_p99", a99, b99, "reported");
  ratio("rpc_round_trip_tcp_p50", t50, f50, "<= 1.3x");
}

// The same round trip with and without a deadline, in alternating blocks so that both see the
// same machine; and how far past a 20 ms deadline the caller is freed.
asio::awaitable<void> measure_deadline_cost(int calls) {
  auto conn =
      co_await rp::spawn<bench_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  using namespace std::chrono_literals;
  std::vector<double> plain, bounded;
  for (int i = 0; i < calls; ++i) {
    bool with_deadline = (i / 100) % 2 == 1;
    auto start = clock_type::now();
    std::int64_t answer = 0;
    if (with_deadline)
      answer = co_await conn.run(bench_worker::ping, i, rp::call_options().with_timeout(10s));
    else
      answer = co_await conn.run(bench_worker::ping, i);
    (with_deadline ? bounded : plain).push_back(seconds_since(start));
    if (answer != i + 1) throw std::runtime_error("wrong answer");
  }
  double a = percentile(bounded, 0.5) * 1e6, b = percentile(plain, 0.5) * 1e6;
  report("rpc_round_trip_with_deadline_p50", a, "us");
  report("rpc_round_trip_without_deadline_p50", b, "us");
  ratio("deadline_cost_round_trip_p50", a, b, "<= 1.05x");
  std::vector<double> late;
  for (int i = 0; i < 20; ++i) {
    auto start = clock_type::now();
    auto result =
        co_await conn.try_run(bench_worker::sleep, 1000, rp::call_options().with_timeout(20ms));
    if (result) throw std::runtime_error("a 1 s sleep beat its 20 ms deadline");
    late.push_back(seconds_since(start) - 0.020);
  }
  report("timed_out_after_deadline_p50", percentile(late, 0.5) * 1e6, "us");
  report("timed_out_after_deadline_max", percentile(late, 1.0) * 1e6, "us");
}

// The same round trip with metrics off and on (both ends counting), in alternating blocks.
asio::awaitable<void> measure_metrics_cost(int calls) {
  auto conn =
      co_await rp::spawn<bench_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  std::vector<double> off, on;
  for (int i = 0; i < calls; ++i) {
    bool counting = (i / 100) % 2 == 1;
    if (i % 100 == 0) {
      co_await conn.run(bench_worker::count_metrics, counting);
      rp::detail::metrics::set_on(counting);
    }
    auto start = clock_type::now();
    std::int64_t answer = co_await conn.run(bench_worker::ping, i);
    (counting ? on : off).push_back(seconds_since(start));
    if (answer != i + 1) throw std::runtime_error("wrong answer");
  }
  rp::detail::metrics::set_on(false);
  double a = percentile(on, 0.5) * 1e6, b = percentile(off, 0.5) * 1e6;
  report("rpc_round_trip_metrics_on_p50", a, "us");
  report("rpc_round_trip_metrics_off_p50", b, "us");
  ratio("metrics_cost_round_trip_p50", a, b, "<= 1.05x");
}

// The same round trip with tracing off and on, in alternating blocks. On, both ends record a
// span per call, the worker sends its span just ahead of each reply, and the master writes both
// as JSON to a trace file (here /dev/null), as `--rpc-trace` does.
asio::awaitable<void> measure_trace_cost(int calls) {
  namespace detail = rp::detail;
  auto conn =
      co_await rp::spawn<bench_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  detail::trace_file file("/dev/null");
  std::vector<double> off, on;
  for (int i = 0; i < calls; ++i) {
    bool tracing = (i / 100) % 2 == 1;
    if (i % 100 == 0) {
      co_await conn.run(bench_worker::trace, tracing);
      if (tracing) {
        detail::tracer::of_this_process().start();
        detail::tracer::of_this_process().write_to(&file);
      } else {
        detail::tracer::stop();
      }
    }
    auto start = clock_type::now();
    std::int64_t answer = co_await conn.run(bench_worker::ping, i);
    (tracing ? on : off).push_back(seconds_since(start));
    if (answer != i + 1) throw std::runtime_error("wrong answer");
  }
  detail::tracer::stop();
  detail::tracer::of_this_process().write_to(nullptr);
  if (file.spans_written() == 0) throw std::runtime_error("tracing on recorded no span");
  double a = percentile(on, 0.5) * 1e6, b = percentile(off, 0.5) * 1e6;
  report("rpc_round_trip_tracing_on_p50", a, "us");
  report("rpc_round_trip_tracing_off_p50", b, "us");
  ratio("trace_cost_round_trip_p50", a, b, "reported");
}

asio::awaitable<void> measure_pipelined(int calls, int in_flight) {
  auto conn =
      co_await rp::spawn<bench_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer all(executor, asio::steady_timer::time_point::max());
  int left = in_flight;
  auto start = clock_type::now();
  for (int k = 0; k < in_flight; ++k) {
    asio::co_spawn(
        executor,
        [&conn, &all, &left, calls, in_flight]() -> asio::awaitable<void> {
          for (int i = 0; i < calls / in_flight; ++i) co_await conn.run(bench_worker::ping, i);
          if (--left == 0) all.cancel();
        },
        asio::detached);
  }
  boost::system::error_code ec;
  co_await all.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  double ours = (calls / in_flight) * in_flight / seconds_since(start);
  // The calls go over the spawn's same-host (Unix-domain) link: the floor is that kind of
  // socket; the TCP one is reported beside it, as it was the floor before same-host links.
  double floor = bench::one_write_per_message_unix(calls);
  double tcp_floor = bench::one_write_per_message(calls);
  // Appended, not "_" + ...: g++ 12 raises a false -Wrestrict on that form here (PR 105651).
  std::string suffix = "_";
  suffix += std::to_string(in_flight) + "_in_flight";
  report("pipelined_calls_per_second" + suffix, ours, "calls/s");
  report("floor_one_write_per_message_unix", floor, "messages/s");
  report("floor_one_write_per_message", tcp_floor, "messages/s");
  bench::rate_ratio("pipelined_calls" + suffix, ours, floor, ">= 2x");
  bench::rate_ratio("pipelined_calls_tcp_floor" + suffix, ours, tcp_floor, "reported");
}

asio::awaitable<void> measure_streams(bool quick) {
  co_await bench::measure_pipe_small_values(quick);
  co_await bench::measure_pipe_bulk(quick);
  co_await bench::measure_pipe_slow_reader_memory(quick);
  co_await bench::measure_large_value_memory(quick);
}

asio::awaitable<void> measure_map_reduce(bool quick) {
  co_await bench::measure_map_overhead(quick);
  co_await bench::measure_map_scaling(quick);
  co_await bench::measure_map_straggler(quick);
}

asio::awaitable<int> master_main(const po::variables_map& options) {
  bool quick = options.count("quick") > 0;
  std::string only = options["only"].as<std::string>();
  if (only == "latency") {
    co_await measure_round_trip(quick ? 2000 : 20000);
    co_return 0;
  }
  if (only == "calls") {
    co_await measure_spawn(quick ? 10 : 50, "");
    co_await measure_spawn_many(32, quick ? 2 : 5);
    co_await measure_round_trip(quick ? 2000 : 20000);
    co_await measure_deadline_cost(quick ? 2000 : 20000);
    co_await measure_metrics_cost(quick ? 2000 : 20000);
    co_await measure_trace_cost(quick ? 2000 : 20000);
    co_await measure_pipelined(quick ? 20000 : 200000, 64);
    co_await measure_pipelined(quick ? 20000 : 200000, 1024);
    co_return 0;
  }
  if (only == "values") {
    co_await bench::measure_large_value_memory(quick);
    co_return 0;
  }
  if (only == "streams") {
    co_await measure_streams(quick);
    co_return 0;
  }
  if (only == "mapreduce") {
    co_await measure_map_reduce(quick);
    co_return 0;
  }
  if (only == "straggler") {
    co_await bench::measure_map_straggler(quick);
    co_return 0;
  }
  if (only == "remote") {
    co_await bench::measure_remote(quick);
    co_return 0;
  }
  if (only == "slurm") {
    co_await bench::measure_slurm(quick);
    co_return 0;
  }
  int spawns = quick ? 10 : 50;
  co_await measure_spawn(spawns, "");
  co_await measure_spawn_many(32, quick ? 2 : 5);
  co_await measure_round_trip(quick ? 2000 : 20000);
  co_await measure_deadline_cost(quick ? 2000 : 20000);
  co_await measure_metrics_cost(quick ? 2000 : 20000);
  co_await measure_trace_cost(quick ? 2000 : 20000);
  co_await measure_pipelined(quick ? 20000 : 200000, 64);
  co_await measure_pipelined(quick ? 20000 : 200000, 1024);
  {
    // A master holding 1 GiB: posix_spawn does not copy it, so spawning must not slow down.
    std::vector<char> ballast(std::size_t(1) << 30);
    std::memset(ballast.data(), 1, ballast.size());
    co_await measure_spawn(quick ? 5 : 20, "_with_1GiB_master");
    if (ballast[12345] != 1) co_return 1;
  }
  co_await measure_streams(quick);
  co_await measure_map_reduce(quick);
  co_await bench::measure_remote(quick);
  co_await bench::measure_slurm(quick);
  co_return 0;
}

// Pins this process to one CPU; children inherit it until they pin themselves.
void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

void apply_pin_option(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--pin") != 0) continue;
    std::string mode = argv[i + 1];
    if (mode == "same" || mode == "split") pin_to(0);
    if (mode == "split") ::setenv("BENCH_CHILD_CPU", "1", 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Workers and floor children are this binary too: pin them first when asked to.
  if (const char* cpu = std::getenv("BENCH_CHILD_CPU");
      cpu && argc > 1 &&
      (std::strcmp(argv[1], "RPC_PARALLEL_WORKER") == 0 ||
       std::strncmp(argv[1], "--floor", 7) == 0))
    pin_to(std::atoi(cpu));
  if (auto code = bench::run_floor_child(argc, argv)) return *code;
  apply_pin_option(argc, argv);
  rp::app app;
  app.add_worker<bench_worker>();
  app.add_worker<bench::stream_worker>();
  bench::add_map_workers(app);
  bench::add_remote_workers(app);
  bench::add_slurm_workers(app);
  po::options_description options("bench");
  // clang-format off: one option per line
  options.add_options()("quick", "fewer samples (a smoke run)")(
      "pin", po::value<std::string>()->default_value("none"),
      "same: every process on CPU 0; split: master on CPU 0, children on CPU 1; none")(
      "only", po::value<std::string>()->default_value("all"),
      "all, latency (round trips only), calls (spawn, round trips, pipelined calls), values "
      "(200 MB argument and reply), streams, mapreduce, remote (starts 4 sshd test hosts: "
      "needs root) or slurm (starts a 3-node Slurm cluster: needs root)");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
