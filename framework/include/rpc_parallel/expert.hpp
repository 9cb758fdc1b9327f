// For programs that want no app::run: mount the worker role yourself, start the master yourself.
#pragma once

#include "rpc_parallel/app.hpp"
#include "rpc_parallel/detail/node.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <string>
#include <vector>

namespace rpc_parallel::expert {

/// Serves the worker role; call it from the subcommand named by `worker_command_args`, before
/// anything reads stdin. Returns the exit code. Throws `rpc_error` in a process that was not
/// spawned by rpc_parallel. Rpc_parallel's `Expert.worker_command`.
int run_worker(const app& types);

/// Master state for spawning from the caller's own io_context; spawned workers run
/// `this-binary worker_command_args... [child-of-PID@HOST name]`. Keep it alive while workers
/// are in use, and destroy it only after its io_context has stopped: spawns and connections in
/// flight refer to it. Rpc_parallel's `Expert.start_master_server_exn`.
class master {
 public:
  master(const app& types, boost::asio::any_io_executor executor,
         std::vector<std::string> worker_command_args,
         rpc_settings settings = rpc_settings_from_environment({}), bool pass_name = true);

 private:
  detail::node node_;
};

}  // namespace rpc_parallel::expert
