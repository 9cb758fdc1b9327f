#include "rpc_parallel/detail/spawn.hpp"

#include "rpc_parallel/detail/client.hpp"
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
  auto server = worker_server::bind(self.executor(), type, id, type.name);
  std::weak_ptr<worker_server> weak = server;
  worker_server::hooks hooks;
  hooks.on_shutdown = [weak] {
    if (auto s = weak.lock()) s->stop();
  };
  hooks.on_background_failure = [name = type.name](error e) {
    std::cerr << "[rpc_parallel] served worker of type \"" << name << "\" failed: " << e.message
              << std::endl;
  };
  server->start(std::move(state), std::move(hooks));
  self.adopt(server);
  co_return worker_ref{"127.0.0.1", server->port(), id, type.name, {}};
}

asio::awaitable<void> shutdown_worker(worker_ref worker) {
  std::string context = "shutdown " + describe(worker);
  std::shared_ptr<client> c;
  try {
    c = co_await client::open(worker, nullptr, {}, {.owner = false, .control_only = true});
  } catch (...) {
    throw rpc_error(with_context(current_exception_error(), context));
  }
  co_await c->shutdown_worker();
}

}  // namespace rpc_parallel::detail
