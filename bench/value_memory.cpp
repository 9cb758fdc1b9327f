#include "value_memory.hpp"

#include "proc_memory.hpp"
#include "report.hpp"
#include "stream_worker.hpp"

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace bench {
namespace {

namespace asio = boost::asio;
namespace rp = rpc_parallel;

void print_cost(const char* what, const char* side, std::uint64_t peak, std::uint64_t before,
                std::uint64_t size, double own_values) {
  double growth =
      static_cast<double>(peak > before ? peak - before : 0) / static_cast<double>(size);
  std::printf(
      "ratio large_%s_%s_peak: %.2fx the value's size above its start, %.2fx beyond the "
      "caller's own value (target <= 1.5x)\n",
      what, side, growth, growth - own_values);
  std::fflush(stdout);
}

}  // namespace

asio::awaitable<void> measure_large_value_memory(bool quick) {
  const std::uint64_t size = quick ? 50'000'000 : 200'000'000;
  auto conn = co_await rp::spawn<stream_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_name("values"));
  {
    std::string argument(size, 'a');
    std::int64_t worker = co_await conn.run(stream_worker::reset_peak);
    if (worker < 0 || !reset_peak_memory())
      throw std::runtime_error("large values: the kernel refused to reset VmHWM");
    std::uint64_t master_before = memory_of(::getpid()).now;
    std::uint64_t worker_before = memory_of(static_cast<pid_t>(worker)).now;
    std::uint64_t echoed = co_await conn.run(stream_worker::size_of, argument);
    if (echoed != size) throw std::runtime_error("large values: size_of answered wrong");
    std::uint64_t worker_peak = co_await conn.run(stream_worker::peak);
    print_cost("argument", "master", memory_of(::getpid()).peak, master_before, size, 0);
    print_cost("argument", "worker", worker_peak, worker_before, size, 0);
  }
  std::int64_t worker = co_await conn.run(stream_worker::reset_peak);
  reset_peak_memory();
  std::uint64_t master_before = memory_of(::getpid()).now;
  std::uint64_t worker_before = memory_of(static_cast<pid_t>(worker)).now;
  std::string reply = co_await conn.run(stream_worker::make, size);
  if (reply.size() != size) throw std::runtime_error("large values: make answered wrong");
  std::uint64_t worker_peak = co_await conn.run(stream_worker::peak);
  print_cost("reply", "master", memory_of(::getpid()).peak, master_before, size, 1);
  print_cost("reply", "worker", worker_peak, worker_before, size, 0);
}

}  // namespace bench
