#include "rpc_parallel/for_testing.hpp"

#include "rpc_parallel/detail/stream_channel.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/detail/worker_main.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace rpc_parallel::for_testing {
namespace asio = boost::asio;

std::optional<int> run_worker_if_spawned(const app& types) {
  if (!detail::spawned_as_worker()) return std::nullopt;
  return detail::run_worker_role(types.types());
}

std::int64_t open_stream_ends() noexcept { return detail::open_stream_ends(); }

void run(const app& types, std::function<asio::awaitable<void>()> body,
         std::chrono::seconds deadline, rpc_settings settings) {
  asio::io_context io(1);
  std::exception_ptr failure;
  bool finished = false;
  {
    detail::node self(
        io.get_executor(),
        detail::node_config{
            detail::make_secret(), settings, {detail::worker_argv_marker}, true, types.types()});
    asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
      failure = e;
      finished = true;
      io.stop();
    });
    io.run_for(deadline);
  }
  if (failure) std::rethrow_exception(failure);
  if (!finished)
    throw rpc_error({error_kind::timed_out,
                     "test body did not finish within " + std::to_string(deadline.count()) + " s"});
}

}  // namespace rpc_parallel::for_testing
