// A state RPC (Rpc_parallel's state_worker expect test): one call returns a state now, "hello
// world ", plus a stream of updates to it, the letters a to j. The master prints the state, each
// update, and the state with every update applied.
#include <rpc_parallel/rpc_parallel.hpp>

#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct greeting_worker {
  static constexpr std::string_view name = "greeting_worker";
  /// "hello world ", then the letters to append to it, a to j.
  static constexpr rp::state_rpc<greeting_worker, rp::unit, std::string, char> greeting{"greeting"};
  static void implement(rp::implementations<greeting_worker>& impl) {
    impl.add(greeting, [](rp::unit, rp::stream_writer<char> updates) {
      // Updates written before the state is returned go out after it.
      for (char c = 'a'; c <= 'j'; ++c) (void)updates.write_without_pushback(c);
      updates.close();
      return std::string("hello world ");
    });
  }
};

asio::awaitable<int> master_main() {
  auto conn = co_await rp::spawn<greeting_worker>(rp::shutdown_on::connection_closed,
                                                  rp::spawn_options().with_name("greeter"));
  auto greeting = co_await conn.run(greeting_worker::greeting);
  std::cout << "state: \"" << greeting.state << "\"\n";
  std::string text = greeting.state;
  while (auto letter = co_await greeting.updates.next()) {
    std::cout << "update: " << *letter << "\n";
    text += *letter;
  }
  std::cout << "final: \"" << text << "\"" << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<greeting_worker>();
  return app.run(argc, argv, master_main);
}
