// A straggler in a map-reduce: one of 4 workers slowed down 20 times by a SIGSTOP/SIGCONT duty
// cycle. Lazy batches already give it less work; speculation also keeps its last batches from
// holding up the end.
#include "map_functions.hpp"
#include "map_reduce.hpp"
#include "report.hpp"

#include <rpc_parallel/map_reduce.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>

#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <vector>

namespace bench {
namespace {

namespace asio = boost::asio;
namespace rp = rpc_parallel;

constexpr int slow_down = 20;

/// Slows `pid` down `slow_down` times until `*done`: stopped for all but 1 ms of each cycle.
asio::awaitable<void> duty_cycle(pid_t pid, std::shared_ptr<bool> done) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  while (!*done) {
    ::kill(pid, SIGSTOP);
    pause.expires_after(std::chrono::milliseconds(slow_down - 1));
    co_await pause.async_wait(asio::use_awaitable);
    ::kill(pid, SIGCONT);
    pause.expires_after(std::chrono::milliseconds(1));
    co_await pause.async_wait(asio::use_awaitable);
  }
  ::kill(pid, SIGCONT);
}

/// Seconds for `items` items of 1 ms on a pool of 4 started beforehand; with a straggler, the
/// worker of the first result is slowed down from then on. Checks that each item came once.
asio::awaitable<double> run_seconds(std::int64_t items, bool straggler, double factor) {
  auto config = rp::map_config().with_local(4).with_batch_size(20).with_straggler_factor(factor);
  auto pool = co_await rp::map_pool<sleepy_pid>::start(std::move(config), rp::unit{});
  auto executor = co_await asio::this_coro::executor;
  auto done = std::make_shared<bool>(false);
  std::vector<int> seen(static_cast<std::size_t>(items), 0);
  bool slowed = false;
  auto sink = [&](std::uint64_t index, std::int64_t pid) {
    ++seen[index];
    if (straggler && !slowed) {
      slowed = true;
      asio::co_spawn(executor, duty_cycle(static_cast<pid_t>(pid), done), asio::detached);
    }
  };
  auto start = clock_type::now();
  co_await rp::map_unordered<sleepy_pid>(pool, std::views::iota(std::int64_t(0), items), sink);
  double elapsed = seconds_since(start);
  *done = true;
  for (int n : seen)
    if (n != 1) throw std::runtime_error("straggler: an item did not arrive exactly once");
  co_return elapsed;
}

}  // namespace

asio::awaitable<void> measure_map_straggler(bool quick) {
  wait_for_idle("map_straggler");
  const std::int64_t items = quick ? 2000 : 8000;
  const int runs = quick ? 1 : 3;
  std::vector<double> clean, speculated, plain;
  for (int i = 0; i < runs; ++i) {
    double a = co_await run_seconds(items, false, 4);
    double b = co_await run_seconds(items, true, 4);
    double c = co_await run_seconds(items, true, 0);
    clean.push_back(a);
    speculated.push_back(b);
    plain.push_back(c);
  }
  double a = percentile(clean, 0.5) * 1e3, b = percentile(speculated, 0.5) * 1e3,
         c = percentile(plain, 0.5) * 1e3;
  report("map_1ms_items_4_workers_no_straggler", a, "ms");
  report("map_1ms_items_4_workers_straggler_speculated", b, "ms");
  report("map_1ms_items_4_workers_straggler_not_speculated", c, "ms");
  ratio("map_straggler_20x_speculated_vs_none", b, a, "<= 1.5x");
  ratio("map_straggler_20x_not_speculated_vs_none", c, a, "reported");
}

}  // namespace bench
