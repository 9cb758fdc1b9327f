#include "rpc_parallel/joins.hpp"

#include "rpc_parallel/detail/join_queue.hpp"
#include "rpc_parallel/detail/master_server.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/rendezvous.hpp"
#include "rpc_parallel/error.hpp"

namespace rpc_parallel {

joins joins::open(join_options options) {
  detail::node& self = detail::node::current();
  detail::master_server& server = self.master_server();
  joins opened;
  opened.queue_ = server.open_joins();
  detail::rendezvous r{detail::host_addresses(), server.port(), self.key()};
  for (const auto& address : r.addresses)
    opened.addresses_.push_back(address + ":" + std::to_string(r.port));
  if (!options.secret_file.empty()) detail::write_secret_file(options.secret_file, self.key());
  if (!options.rendezvous_file.empty()) {
    detail::write_rendezvous(options.rendezvous_file, r);
    opened.queue_->remove_on_close(options.rendezvous_file);
  }
  return opened;
}

how_to_run joins::how() const {
  return how_to_run::through(std::make_shared<detail::join_launcher>(queue_));
}

std::size_t joins::waiting() const noexcept { return queue_->waiting(); }

boost::asio::awaitable<bool> joins::wait_for(std::size_t count,
                                             std::chrono::milliseconds timeout) const {
  std::shared_ptr<detail::join_queue> queue = queue_;
  co_return co_await queue->await_waiting(count, std::chrono::steady_clock::now() + timeout);
}

symmetric_peers peers() {
  detail::node& self = detail::node::current();
  if (!self.symmetric_peers)
    throw rpc_error({error_kind::failed,
                     "this master was not started as rank 0 of a symmetric launch (srun -n N, "
                     "mpirun -n N, or --rpc-rank 0 --rpc-size N)"});
  return {joins::open().how(), *self.symmetric_peers};
}

}  // namespace rpc_parallel
