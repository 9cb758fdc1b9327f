// No app::run: the program owns its command line and mounts the worker role as its `worker`
// subcommand (Rpc_parallel's alternative_init, through rpc_parallel::expert). Prints "Success.".
#include <rpc_parallel/expert.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstring>
#include <iostream>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct square_worker {
  static constexpr std::string_view name = "square_worker";
  static constexpr rp::rpc<square_worker, std::int64_t, std::int64_t> square{"square"};
  static void implement(rp::implementations<square_worker>& impl) {
    impl.add(square, [](std::int64_t x) { return x * x; });
  }
};

asio::awaitable<void> use_a_worker() {
  auto conn =
      co_await rp::spawn<square_worker>(rp::shutdown_on::connection_closed, rp::spawn_options());
  std::int64_t nine = co_await conn.run(square_worker::square, 3);
  std::cout << (nine == 9 ? "Success." : "Failure.") << std::endl;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<square_worker>();
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "worker") return rp::expert::run_worker(app);
  if (command != "main") {
    std::cerr << "usage: " << argv[0] << " main" << std::endl;
    return 2;
  }
  asio::io_context io;
  // Spawned workers run `this-binary worker child-of-PID@HOST NAME`.
  rp::expert::master master(app, io.get_executor(), {"worker"});
  std::exception_ptr failure;
  // The master server keeps the io_context busy: stop it when the work is done.
  asio::co_spawn(io, use_a_worker(), [&failure, &io](std::exception_ptr e) {
    failure = e;
    io.stop();
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return 0;
}
