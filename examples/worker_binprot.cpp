// A worker handle is a value: the master passes one worker to another, which calls it directly
// (Rpc_parallel's worker_binprot example). The ping counts form one sequence 1..20.
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct ping_worker {
  static constexpr std::string_view name = "ping_worker";
  using spawn_arg = rp::unit;
  struct state {
    std::int64_t pings = 0;
  };
  static state init_worker_state(rp::unit) { return {}; }
  static constexpr rp::rpc<ping_worker, rp::unit, std::int64_t> ping{"ping"};
  static void implement(rp::implementations<ping_worker>& impl) {
    impl.add(ping, [](state& s, rp::unit) { return ++s.pings; });
  }
};

struct dispatcher {
  static constexpr std::string_view name = "dispatcher";
  using spawn_arg = rp::unit;
  struct state {};
  static state init_worker_state(rp::unit) { return {}; }
  /// Connects to the given worker and pings it.
  static constexpr rp::rpc<dispatcher, rp::worker<ping_worker>, std::int64_t> dispatch{"dispatch"};
  static asio::awaitable<std::int64_t> ping_through(rp::connection<ping_worker>& c) {
    std::int64_t n = co_await c.run(ping_worker::ping);
    co_return n;
  }
  static void implement(rp::implementations<dispatcher>& impl) {
    impl.add(dispatch, [](state&, rp::worker<ping_worker> target) -> asio::awaitable<std::int64_t> {
      std::int64_t n = co_await rp::with_client(target, rp::unit{}, ping_through);
      co_return n;
    });
  }
};

asio::awaitable<int> master_main() {
  auto target = co_await rp::spawn<ping_worker>(rp::shutdown_on::heartbeater_timeout,
                                                rp::spawn_options(), rp::unit{});
  auto via = co_await rp::spawn<dispatcher>(rp::shutdown_on::connection_closed, rp::spawn_options(),
                                            rp::unit{});
  auto direct = co_await rp::connect(target);
  auto executor = co_await asio::this_coro::executor;
  int outstanding = 20;
  asio::steady_timer done(executor, asio::steady_timer::time_point::max());
  for (int i = 0; i < 10; ++i) {
    asio::co_spawn(
        executor,
        [&via, &target, &outstanding, &done]() -> asio::awaitable<void> {
          std::int64_t n = co_await via.run(dispatcher::dispatch, target);
          std::cout << "worker pinged from dispatcher: " << n << "\n";
          if (--outstanding == 0) done.cancel();
        },
        asio::detached);
    asio::co_spawn(
        executor,
        [&direct, &outstanding, &done]() -> asio::awaitable<void> {
          std::int64_t n = co_await direct.run(ping_worker::ping);
          std::cout << "worker pinged from master: " << n << "\n";
          if (--outstanding == 0) done.cancel();
        },
        asio::detached);
  }
  boost::system::error_code ec;
  co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::cout.flush();
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<ping_worker>().add_worker<dispatcher>();
  return app.run(argc, argv, master_main);
}
