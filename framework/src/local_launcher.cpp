#include "rpc_parallel/detail/launcher.hpp"

#include "rpc_parallel/detail/node.hpp"

namespace rpc_parallel::detail {

boost::asio::awaitable<std::string> launcher::explain_failed_start(std::string) const {
  co_return std::string();
}

boost::asio::awaitable<std::pair<std::string, std::uint16_t>> launcher::reach_worker(
    std::string host, std::uint16_t port) const {
  co_return std::pair<std::string, std::uint16_t>{std::move(host), port};
}

namespace {

class this_host final : public launcher {
 public:
  boost::asio::awaitable<prepared_launch> prepare(std::uint16_t, bool) const override {
    co_return prepared_launch{"127.0.0.1", 0, nullptr};
  }
  launched launch(const launch_request& request, prepared_launch) const override {
    return launch_self(request.argv, request.env, request.pipe_stdout, request.wrapper);
  }
  std::string where() const override { return "this host"; }
  std::string host() const override { return host_name(); }
  bool forwards_output_by_default() const override { return false; }
  bool carries_output() const override { return false; }
};

}  // namespace

const launcher& local_launcher() {
  static const this_host instance;
  return instance;
}

const launcher& launcher_of(const how_to_run& how) {
  return how.launcher() ? *how.launcher() : local_launcher();
}

}  // namespace rpc_parallel::detail

namespace rpc_parallel {

std::string how_to_run::host() const { return detail::launcher_of(*this).host(); }

}  // namespace rpc_parallel
