// Ping-pong over a direct pipe, ended by the caller (Rpc_parallel's abort_direct_pipe example):
// each `ping i` makes the worker write `i` on the pongs stream; after the last pong the master
// aborts the stream, sees it closed by the worker, and asks whether the worker saw it close.
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/program_options.hpp>

#include <iostream>
#include <optional>
#include <stdexcept>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

struct ping_pong_worker {
  static constexpr std::string_view name = "ping_pong_worker";
  struct state {
    std::optional<rp::stream_writer<std::int64_t>> pongs;  // once `pongs` has been called
  };

  /// Opens the stream of pongs. It stays open until the caller aborts it.
  static constexpr rp::direct_pipe_rpc<ping_pong_worker, rp::unit, std::int64_t> pongs{"pongs"};
  /// Writes `i` on the pongs stream. Throws (failed) before `pongs`.
  static constexpr rp::rpc<ping_pong_worker, std::int64_t, rp::unit> ping{"ping"};
  /// Whether the worker's end of the pongs stream has closed.
  static constexpr rp::rpc<ping_pong_worker, rp::unit, bool> pongs_closed{"pongs_closed"};

  static void implement(rp::implementations<ping_pong_worker>& impl) {
    impl.add(pongs, [](state& s, rp::unit, rp::stream_writer<std::int64_t> out) {
      s.pongs = std::move(out);  // keeping the writer keeps the stream open
    });
    impl.add(ping, [](state& s, std::int64_t i) {
      if (!s.pongs) throw std::runtime_error("ping before pongs");
      (void)s.pongs->write_without_pushback(i);
    });
    impl.add(pongs_closed, [](state& s, rp::unit) { return s.pongs && s.pongs->is_closed(); });
  }
};

asio::awaitable<int> master_main(const po::variables_map& options) {
  const std::int64_t n = options["n"].as<std::int64_t>();
  auto conn = co_await rp::spawn<ping_pong_worker>(rp::shutdown_on::connection_closed,
                                                   rp::spawn_options().with_name("ping-pong"));
  auto pongs = co_await conn.run(ping_pong_worker::pongs);
  for (std::int64_t i = 0; i < n; ++i) {
    std::cout << "Ping: " << i << "\n";
    co_await conn.run(ping_pong_worker::ping, i);
    auto pong = co_await pongs.next();
    std::cout << "Pong: " << pong.value() << "\n";
  }
  // Pongs already on their way would still arrive before the end; here there are none.
  conn.abort(pongs.id());
  while (auto late = co_await pongs.next()) std::cout << "Late pong: " << *late << "\n";
  std::cout << "Closed: " << rp::to_string(pongs.closed_by()) << "\n";
  // The worker's writer closed when the abort arrived, before the end was sent to us.
  bool closed = co_await conn.run(ping_pong_worker::pongs_closed);
  std::cout << "Worker reports pongs " << (closed ? "closed" : "open") << std::endl;
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<ping_pong_worker>();
  po::options_description options("abort_direct_pipe");
  // clang-format off: one option per line
  options.add_options()("n", po::value<std::int64_t>()->default_value(5), "pings to send");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
