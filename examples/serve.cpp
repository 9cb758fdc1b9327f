// A worker served inside the master process, two connections, then close_server
// (Rpc_parallel's serve example). Prints "Success.".
#include <rpc_parallel/rpc_parallel.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct counter_worker {
  static constexpr std::string_view name = "counter_worker";
  using spawn_arg = std::int64_t;
  struct state {
    std::int64_t value;
  };
  static state init_worker_state(std::int64_t start) { return {start}; }
  static constexpr rp::rpc<counter_worker, rp::unit, std::int64_t> increment{"increment"};
  static void implement(rp::implementations<counter_worker>& impl) {
    impl.add(increment, [](state& s, rp::unit) { return ++s.value; });
  }
};

asio::awaitable<bool> check(std::int64_t i) {
  auto worker = co_await rp::serve<counter_worker>(i);
  auto first = co_await rp::connect(worker);
  auto second = co_await rp::connect(worker);
  std::int64_t a = co_await first.run(counter_worker::increment);
  std::int64_t b = co_await second.run(counter_worker::increment);
  co_await first.close_server();
  auto refused = co_await rp::try_connect(worker);
  std::int64_t c = co_await first.run(counter_worker::increment);
  co_return a == i + 1 && b == i + 2 && refused.has_error() && c == i + 3;
}

asio::awaitable<int> master_main() {
  for (std::int64_t i = 0; i < 10; ++i) {
    bool ok = co_await check(i);
    if (!ok) {
      std::cout << "Failure at " << i << "." << std::endl;
      co_return 1;
    }
  }
  std::cout << "Success." << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<counter_worker>();
  return app.run(argc, argv, master_main);
}
