// Subscribing to a worker's log (Rpc_parallel's async_log example). Two subscriptions each get
// every message the worker writes, starting with the one it wrote while initialising (kept for
// later subscribers, which Rpc_parallel does not do); once the first is closed, only the second
// gets the next message.
#include <rpc_parallel/rpc_parallel.hpp>

#include <iostream>
#include <stdexcept>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct log_worker {
  static constexpr std::string_view name = "log_worker";
  static rp::unit init_worker_state(rp::unit) {
    rp::write_log("worker initialised");
    return {};
  }
  /// Writes `text` to the worker's log at level info.
  static constexpr rp::rpc<log_worker, std::string, rp::unit> log{"log"};
  static void implement(rp::implementations<log_worker>& impl) {
    impl.add(log, [](std::string text) { rp::write_log(std::move(text)); });
  }
};

/// Reads `count` messages from subscription `number` and prints them, without their times.
asio::awaitable<void> print(rp::stream_reader<rp::log_message>& subscription, int number,
                            int count) {
  for (int i = 0; i < count; ++i) {
    auto message = co_await subscription.next();
    if (!message) throw std::runtime_error("subscription ended early");
    std::cout << "subscription " << number << ": " << rp::to_string(message->level) << ": "
              << message->text << "\n";
  }
}

asio::awaitable<int> master_main() {
  auto worker = co_await rp::spawn<log_worker>(rp::shutdown_on::heartbeater_timeout,
                                               rp::spawn_options().with_name("logger"));
  auto conn = co_await rp::connect(worker);
  auto first = co_await conn.subscribe_log();
  auto second = co_await conn.subscribe_log();
  std::string text = "worker log message";
  co_await conn.run(log_worker::log, text);
  co_await print(first, 1, 2);  // the initialisation message, then the new one
  co_await print(second, 2, 2);
  first.close();
  co_await conn.run(log_worker::log, text);
  co_await print(second, 2, 1);
  std::cout.flush();
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<log_worker>();
  return app.run(argc, argv, master_main);
}
