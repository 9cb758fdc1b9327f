// A direct pipe written by a background task (Rpc_parallel's rpc_direct_pipe example): the
// worker's `sum` returns at once, and a task it started sends the running sums 0, 1, 3, 6, ...
// one every `delay`, then closes the stream. The master prints each sum as it arrives.
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/program_options.hpp>

#include <chrono>
#include <iostream>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

/// What to sum: 0..max-1, one partial sum every `delay_ms` milliseconds.
struct sum_query {
  std::int64_t max = 0;
  std::int64_t delay_ms = 0;

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& max& delay_ms;
  }
};

struct sum_worker {
  static constexpr std::string_view name = "sum_worker";
  /// Streams the running sums of 0..max-1; the stream ends after the last one.
  static constexpr rp::direct_pipe_rpc<sum_worker, sum_query, std::int64_t> sum{"sum"};

  static asio::awaitable<void> write_sums(sum_query query, rp::stream_writer<std::int64_t> out) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::int64_t total = 0;
    for (std::int64_t i = 0; i < query.max; ++i) {
      total += i;
      if (!co_await out.write(total)) co_return;  // the reader went away: stop early
      timer.expires_after(std::chrono::milliseconds(query.delay_ms));
      co_await timer.async_wait(asio::use_awaitable);
    }
    out.close();
  }

  static void implement(rp::implementations<sum_worker>& impl) {
    impl.add(sum,
             [](sum_query query, rp::stream_writer<std::int64_t> out) -> asio::awaitable<void> {
               // The stream stays open after this returns: the task now owns the only writer.
               auto executor = co_await asio::this_coro::executor;
               asio::co_spawn(executor, write_sums(query, std::move(out)), asio::detached);
             });
  }
};

asio::awaitable<int> master_main(const po::variables_map& options) {
  sum_query query{options["max"].as<std::int64_t>(), options["delay-ms"].as<std::int64_t>()};
  auto conn = co_await rp::spawn<sum_worker>(rp::shutdown_on::connection_closed,
                                             rp::spawn_options().with_name("sum"));
  auto sums = co_await conn.run(sum_worker::sum, query);
  while (auto total = co_await sums.next()) std::cout << "Sum_worker.sum: " << *total << "\n";
  std::cout << "Closed: " << rp::to_string(sums.closed_by()) << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<sum_worker>();
  po::options_description options("rpc_direct_pipe");
  // clang-format off: one option per line
  options.add_options()("max", po::value<std::int64_t>()->default_value(10), "sum 0..max-1")(
      "delay-ms", po::value<std::int64_t>()->default_value(10), "milliseconds between sums");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
