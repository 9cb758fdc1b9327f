#include "rpc_parallel/expert.hpp"

#include "rpc_parallel/detail/worker_main.hpp"
#include "rpc_parallel/error.hpp"

namespace rpc_parallel::expert {

int run_worker(const app& types) {
  RPCP_REQUIRE(detail::spawned_as_worker(),
               "this subcommand runs rpc_parallel workers; it is started by the framework, not "
               "by hand");
  return detail::run_worker_role(types.types());
}

master::master(const app& types, boost::asio::any_io_executor executor,
               std::vector<std::string> worker_command_args, rpc_settings settings, bool pass_name)
    : node_(std::move(executor),
            detail::node_config{detail::make_secret(), settings, std::move(worker_command_args),
                                pass_name, types.types()}) {}

}  // namespace rpc_parallel::expert
