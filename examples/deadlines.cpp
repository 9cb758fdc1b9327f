// Deadlines, cancellation and death reports, one idea at a time (docs/deadlines.md):
//  1. a call with a deadline fails with timed_out, and the worker's coroutine is cancelled too;
//  2. a plain function stops at its deadline by polling rpc_parallel::cancelled();
//  3. a call that loses a race with a timer (`||`) is cancelled on the worker as well;
//  4. a worker that aborts: the error says how it died and what it printed last.
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace std::chrono_literals;

struct render_worker {
  static constexpr std::string_view name = "render_worker";
  struct state {
    std::int64_t cancelled = 0;  // how many renders saw their cancellation
  };
  static state init_worker_state(rp::unit) { return {}; }

  /// "Renders" for `ms` milliseconds in a coroutine.
  static constexpr rp::rpc<render_worker, std::int64_t, std::string> render{"render"};
  /// Crunches for up to `ms` milliseconds in a plain function; returns how far it got.
  static constexpr rp::rpc<render_worker, std::int64_t, std::string> crunch{"crunch"};
  static constexpr rp::rpc<render_worker, rp::unit, std::int64_t> cancellations{"cancellations"};
  /// Prints its query to stderr, then aborts.
  static constexpr rp::rpc<render_worker, std::string, rp::unit> crash{"crash"};

  static asio::awaitable<std::string> render_for(state& s, std::int64_t ms) {
    asio::steady_timer work(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    try {
      co_await work.async_wait(asio::use_awaitable);
    } catch (const boost::system::system_error&) {
      ++s.cancelled;  // operation_aborted: the call's deadline passed, or its caller gave up
      throw;
    }
    co_return "rendered";
  }

  static void implement(rp::implementations<render_worker>& impl) {
    impl.add(render, [](state& s, std::int64_t ms) { return render_for(s, ms); });
    impl.add(crunch, [](state& s, std::int64_t ms) {
      auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (std::chrono::steady_clock::now() < end) {
        if (rp::cancelled()) {  // cheap: poll it in the loop
          ++s.cancelled;
          return std::string("stopped early");
        }
      }
      return std::string("crunched");
    });
    impl.add(cancellations, [](state& s, rp::unit) { return s.cancelled; });
    impl.add(crash, [](std::string last_words) {
      std::fprintf(stderr, "%s\n", last_words.c_str());
      std::abort();
    });
  }
};

asio::awaitable<int> master_main() {
  auto conn = co_await rp::spawn<render_worker>(
      rp::shutdown_on::connection_closed, rp::spawn_options().with_name("renderer"), rp::unit{});

  // 1. A deadline: the caller is freed at it, and the worker's render is cancelled.
  auto late =
      co_await conn.try_run(render_worker::render, 10'000, rp::call_options().with_timeout(100ms));
  std::cout << "1. render: " << rp::to_string(late.error().kind) << "\n";

  // 2. A plain function sees the same deadline through rp::cancelled().
  auto crunched =
      co_await conn.try_run(render_worker::crunch, 10'000, rp::call_options().with_timeout(100ms));
  std::cout << "2. crunch: " << rp::to_string(crunched.error().kind) << "\n";

  // 3. Racing a timer: the loser is cancelled on the worker too.
  {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer patience(co_await asio::this_coro::executor, 100ms);
    auto call = conn.run(render_worker::render, 10'000);
    auto wait = patience.async_wait(asio::use_awaitable);
    auto first = co_await (std::move(call) || std::move(wait));
    std::cout << "3. race won by " << (first.index() == 0 ? "the render" : "the timer") << "\n";
  }
  // Each cancellation reached the worker. (The last may still be on its way: wait for it.)
  std::int64_t seen = 0;
  for (int attempt = 0; attempt < 500 && seen < 3; ++attempt) {
    seen = co_await conn.run(render_worker::cancellations);
    if (seen < 3) {
      asio::steady_timer pause(co_await asio::this_coro::executor, 10ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
  }
  std::cout << "   the worker saw " << seen << " cancellations\n";

  // 4. A death report: the signal by name, then the worker's last words and its stack trace
  //    (the whole report also goes to stderr, through spawn_options::on_failure's default).
  auto crashed = co_await conn.try_run(render_worker::crash, "out of ideas");
  const std::string& report = crashed.error().message;
  std::cout << "4. crash: " << rp::to_string(crashed.error().kind) << "; "
            << (report.find("died: killed by SIGABRT (Aborted)") != std::string::npos
                    ? "killed by SIGABRT"
                    : "?")
            << "; "
            << (report.find("out of ideas") != std::string::npos ? "its last words are in it" : "?")
            << "\n";
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<render_worker>();
  return app.run(argc, argv, master_main);
}
