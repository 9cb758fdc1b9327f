// A worker that stays the master's child: the master reads its stdout and stderr after it
// exits (Rpc_parallel's spawn_in_foreground example).
#include <rpc_parallel/rpc_parallel.hpp>

#include <iostream>
#include <sstream>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct printer_worker {
  static constexpr std::string_view name = "printer_worker";
  using spawn_arg = rp::unit;
  struct state {};
  static state init_worker_state(rp::unit) { return {}; }
  static constexpr rp::rpc<printer_worker, std::string, rp::unit> print{"print"};
  static constexpr rp::rpc<printer_worker, std::string, rp::unit> warn{"warn"};
  static void implement(rp::implementations<printer_worker>& impl) {
    impl.add(print, [](state&, std::string line) { std::cout << line << std::endl; });
    impl.add(warn, [](state&, std::string line) { std::cerr << line << std::endl; });
  }
};

void dump(const std::string& prefix, const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) std::cout << prefix << line << "\n";
}

asio::awaitable<int> master_main() {
  auto spawned = co_await rp::spawn_in_foreground<printer_worker>(
      rp::shutdown_on::connection_closed, rp::spawn_options(), rp::unit{});
  auto& conn = spawned.value;
  auto& process = spawned.process;
  co_await conn.run(printer_worker::print, "HELLO");
  co_await conn.run(printer_worker::print, "HELLO2");
  co_await conn.run(printer_worker::warn, "about to be closed");
  conn.close();  // the worker exits when its first connection closes
  std::string out = co_await process.read_stdout();
  std::string err = co_await process.read_stderr();
  int status = co_await process.wait();
  dump("[WORKER STDERR]: ", err);
  dump("[WORKER STDOUT]: ", out);
  std::cout << "exit status " << status << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<printer_worker>();
  return app.run(argc, argv, master_main);
}
