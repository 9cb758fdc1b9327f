// Two worker types in one binary, spawned concurrently (Rpc_parallel's sum_worker and
// product_worker expect tests). Prints "sum: 861" and "product: 3628800".
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace asio::experimental::awaitable_operators;

// Stateless workers: a name and functions are all a worker type needs.
struct sum_worker {
  static constexpr std::string_view name = "sum_worker";
  /// Sum of 0..n.
  static constexpr rp::rpc<sum_worker, std::int64_t, std::int64_t> sum{"sum"};
  static void implement(rp::implementations<sum_worker>& impl) {
    impl.add(sum, [](std::int64_t n) { return n * (n + 1) / 2; });
  }
};

struct product_worker {
  static constexpr std::string_view name = "product_worker";
  /// Product of 1..n.
  static constexpr rp::rpc<product_worker, std::int64_t, std::int64_t> product{"product"};
  static void implement(rp::implementations<product_worker>& impl) {
    impl.add(product, [](std::int64_t n) {
      std::int64_t p = 1;
      for (std::int64_t i = 2; i <= n; ++i) p *= i;
      return p;
    });
  }
};

asio::awaitable<std::int64_t> sum_of(std::int64_t n) {
  auto conn =
      co_await rp::spawn<sum_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  std::int64_t result = co_await conn.run(sum_worker::sum, n);
  co_return result;
}

asio::awaitable<std::int64_t> product_of(std::int64_t n) {
  auto conn =
      co_await rp::spawn<product_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  std::int64_t result = co_await conn.run(product_worker::product, n);
  co_return result;
}

asio::awaitable<int> master_main() {
  // Both workers start and answer concurrently.
  auto both = co_await (sum_of(41) && product_of(10));
  std::cout << "sum: " << std::get<0>(both) << "\nproduct: " << std::get<1>(both) << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<sum_worker>().add_worker<product_worker>();
  return app.run(argc, argv, master_main);
}
