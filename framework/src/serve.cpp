#include "rpc_parallel/detail/log_lines.hpp"
#include "rpc_parallel/detail/spawn.hpp"

#include "rpc_parallel/detail/client.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/worker_server.hpp"

#include <iostream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

asio::awaitable<worker_ref> serve_worker(const worker_type_entry& type, std::string spawn_arg) {
  node& self = node::current();
  std::string id = make_worker_id();
  std::shared_ptr<void> state;
  try {
    state = co_await type.init_worker_state(std::move(spawn_arg));
  } catch (...) {
    throw rpc_error(with_context(current_exception_error(),
                                 "serve worker of type \"" + type.name + "\": init_worker_state"));
  }
  auto server = worker_server::bind(self, type, id, type.name);
  std::weak_ptr<worker_server> weak = server;
  worker_server::hooks hooks;
  hooks.on_shutdown = [weak] {
    if (auto s = weak.lock()) s->stop();
  };
  hooks.on_background_failure = [name = type.name](error e) {
    say(log_level::error, "[rpc_parallel] ",
        "served worker of type \"" + std::string(name) + "\" failed: " + e.message);
  };
  server->start(std::move(state), std::move(hooks));
  self.adopt(server);
  co_return worker_ref{"127.0.0.1", server->port(), id, type.name, {}, server->same_host_name()};
}

asio::awaitable<void> shutdown_worker(worker_ref worker) {
  std::string context = "shutdown " + describe(worker);
  std::shared_ptr<client> c;
  try {
    c = co_await client::open(worker, nullptr, {}, {.owner = false, .control_only = true});
  } catch (...) {
    throw rpc_error(with_context(current_exception_error(), context));
  }
  // Bounded: a worker busy in a long plain function reads the frame, and exits, only when that
  // function returns; shutdown then reports timed_out instead of hanging.
  co_await with_deadline(c->shutdown_worker(), node::current().settings().handshake_timeout,
                         context + ": waiting for the worker to close the connection");
}

}  // namespace rpc_parallel::detail
