#include "stream_memory.hpp"

#include "proc_memory.hpp"
#include "report.hpp"
#include "stream_worker.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace bench {
namespace {

namespace asio = boost::asio;
namespace rp = rpc_parallel;
constexpr std::uint64_t value_size = 64 * 1024;
constexpr double mebibyte = 1024.0 * 1024.0;

/// Values per second the master reads from `flood` flat out, over `seconds`.
asio::awaitable<double> fast_read_rate(rp::connection<stream_worker>& conn, double seconds) {
  auto reader = co_await conn.run(stream_worker::flood, value_size);
  for (int i = 0; i < 256; ++i) (void)co_await reader.next();  // past the first windows
  auto start = clock_type::now();
  std::int64_t values = 0;
  while (seconds_since(start) < seconds) {
    auto v = co_await reader.next();
    if (!v || v->size() != value_size) throw std::runtime_error("flood: stream ended");
    ++values;
  }
  double rate = static_cast<double>(values) / seconds_since(start);
  reader.close();
  co_return rate;
}

/// Peak resident bytes of one process since a baseline: sampled VmRSS, and VmHWM when the
/// process could reset it at the baseline.
struct peak_tracker {
  pid_t pid;
  bool hwm_was_reset;
  resident_memory start = memory_of(pid);
  std::uint64_t peak = start.now;

  void sample() { peak = std::max(peak, memory_of(pid).now); }
  double growth_mib() const {
    std::uint64_t p = std::max(peak, hwm_was_reset ? memory_of(pid).peak : 0);
    return static_cast<double>(p > start.now ? p - start.now : 0) / mebibyte;
  }
};

void print_growth(const char* who, double mib) {
  std::printf("ratio pipe_slow_reader_%s_rss: %.1f MiB peak above start (target < 64 MiB)\n", who,
              mib);
  std::fflush(stdout);
}

}  // namespace

asio::awaitable<void> measure_pipe_slow_reader_memory(bool quick) {
  auto conn = co_await rp::spawn<stream_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_name("flood"));
  double fast = co_await fast_read_rate(conn, quick ? 0.5 : 1.0);
  report("pipe_64KiB_values_fast_reader", fast * value_size / 1e6, "MB/s");

  std::int64_t worker_pid = co_await conn.run(stream_worker::reset_peak);
  peak_tracker worker{static_cast<pid_t>(std::abs(worker_pid)), worker_pid > 0};
  peak_tracker master{::getpid(), reset_peak_memory()};
  const double seconds = quick ? 5.0 : 60.0;
  const auto pause = std::chrono::duration<double>(99.0 / fast);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto reader = co_await conn.run(stream_worker::flood, value_size);
  auto start = clock_type::now(), next_sample = start;
  std::int64_t read = 0;
  while (seconds_since(start) < seconds) {
    auto v = co_await reader.next();
    if (!v) throw std::runtime_error("flood: stream ended");
    ++read;
    timer.expires_after(std::chrono::duration_cast<clock_type::duration>(pause));
    co_await timer.async_wait(asio::use_awaitable);
    if (clock_type::now() >= next_sample) {
      worker.sample();
      master.sample();
      next_sample += std::chrono::milliseconds(100);
    }
  }
  double elapsed = seconds_since(start);
  std::int64_t written = co_await conn.run(stream_worker::flood_written);
  double worker_growth = worker.growth_mib(), master_growth = master.growth_mib();
  reader.close();
  report("pipe_slow_reader_seconds", elapsed, "s");
  report("pipe_slow_reader_read_per_second", static_cast<double>(read) / elapsed, "values/s");
  report("pipe_slow_reader_values_read", static_cast<double>(read), "values");
  report("pipe_slow_reader_values_written", static_cast<double>(written), "values");
  report("pipe_slow_reader_worker_peak_rss_growth", worker_growth, "MiB");
  report("pipe_slow_reader_master_peak_rss_growth", master_growth, "MiB");
  print_growth("worker", worker_growth);
  print_growth("master", master_growth);
}

}  // namespace bench
