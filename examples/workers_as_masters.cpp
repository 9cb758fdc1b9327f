// Workers spawn workers of their own (Rpc_parallel's workers_as_masters example).
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/program_options.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

struct secondary_worker {
  static constexpr std::string_view name = "secondary_worker";
  using spawn_arg = std::string;  // its name
  struct state {
    std::string name;
  };
  static state init_worker_state(std::string name) { return {std::move(name)}; }
  static constexpr rp::rpc<secondary_worker, rp::unit, std::string> ping{"ping"};
  static void implement(rp::implementations<secondary_worker>& impl) {
    impl.add(ping, [](state& s, rp::unit) { return s.name + ": pong"; });
  }
};

struct primary_worker {
  static constexpr std::string_view name = "primary_worker";
  using spawn_arg = std::string;
  struct state {
    std::string name;
    std::vector<rp::worker<secondary_worker>> secondaries;
  };
  static state init_worker_state(std::string name) { return {std::move(name), {}}; }

  /// Spawns this many secondary workers, which live as long as this primary.
  static constexpr rp::rpc<primary_worker, int, rp::unit> run{"run"};
  /// Pings every secondary; one line each.
  static constexpr rp::rpc<primary_worker, rp::unit, std::vector<std::string>> ping{"ping"};

  static asio::awaitable<rp::unit> spawn_secondaries(state& s, int count) {
    for (int k = 0; k < count; ++k) {
      std::string name = "Secondary worker #" + std::to_string(k);
      auto w = co_await rp::spawn<secondary_worker>(rp::shutdown_on::heartbeater_timeout,
                                                    rp::spawn_options().with_name(name), name);
      s.secondaries.push_back(std::move(w));
    }
    co_return rp::unit{};
  }
  static asio::awaitable<std::vector<std::string>> ping_all(state& s, rp::unit) {
    std::vector<std::string> lines;
    for (auto& w : s.secondaries) {
      auto conn = co_await rp::connect(w);
      std::string pong = co_await conn.run(secondary_worker::ping);
      lines.push_back(s.name + ": " + pong);
    }
    co_return lines;
  }
  static void implement(rp::implementations<primary_worker>& impl) {
    impl.add(run, spawn_secondaries);
    impl.add(ping, ping_all);
  }
};

asio::awaitable<int> master_main(const po::variables_map& options) {
  int primaries = options["primary"].as<int>(), secondaries = options["secondary"].as<int>();
  std::vector<rp::connection<primary_worker>> connections;
  for (int i = 0; i < primaries; ++i) {
    std::string name = "Primary worker #" + std::to_string(i);
    auto conn = co_await rp::spawn<primary_worker>(rp::shutdown_on::connection_closed,
                                                   rp::spawn_options().with_name(name), name);
    co_await conn.run(primary_worker::run, secondaries);
    connections.push_back(std::move(conn));
  }
  for (auto& conn : connections) {
    auto lines = co_await conn.run(primary_worker::ping);
    for (auto& line : lines) std::cout << line << "\n";
  }
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<primary_worker>().add_worker<secondary_worker>();
  po::options_description options("workers_as_masters");
  // clang-format off: one option per line
  options.add_options()("primary", po::value<int>()->default_value(3), "primary workers")(
      "secondary", po::value<int>()->default_value(2), "secondary workers per primary");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
