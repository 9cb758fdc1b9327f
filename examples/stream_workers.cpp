// Workers streaming to workers (Rpc_parallel's stream_workers example). A stream worker hands out
// the numbers 0..num_elts-1, each to one of its subscribers. Each forwarding worker is given the
// stream worker's handle, subscribes to it, and streams what it gets on to the master, which
// checks that every number arrives exactly once.
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace rp = rpc_parallel;

struct stream_worker {
  static constexpr std::string_view name = "stream_worker";
  using spawn_arg = std::int64_t;  // how many numbers to hand out
  struct state {
    std::int64_t count;
    std::vector<rp::stream_writer<std::int64_t>> subscribers;
  };
  static state init_worker_state(std::int64_t count) { return {count, {}}; }

  /// Adds a subscriber. Its stream gets its share of the numbers after `start`, then ends.
  static constexpr rp::direct_pipe_rpc<stream_worker, rp::unit, std::int64_t> subscribe{
      "subscribe"};
  /// Starts handing out the numbers, number i to subscriber i mod (subscribers); returns at once.
  /// Throws (failed) when nobody has subscribed.
  static constexpr rp::rpc<stream_worker, rp::unit, rp::unit> start{"start"};

  /// `s` is the worker's state, which lives as long as the worker.
  static asio::awaitable<void> hand_out(state& s) {
    for (std::int64_t i = 0; i < s.count; ++i) {
      auto& out = s.subscribers[static_cast<std::size_t>(i) % s.subscribers.size()];
      (void)co_await out.write(i);  // a subscriber that left just misses its numbers
    }
    for (auto& out : s.subscribers) out.close();
    s.subscribers.clear();
  }

  static void implement(rp::implementations<stream_worker>& impl) {
    impl.add(subscribe, [](state& s, rp::unit, rp::stream_writer<std::int64_t> out) {
      s.subscribers.push_back(std::move(out));
    });
    impl.add(start, [](state& s, rp::unit) -> asio::awaitable<void> {
      RPCP_REQUIRE(!s.subscribers.empty(), "start: no subscribers yet");
      auto executor = co_await asio::this_coro::executor;
      asio::co_spawn(executor, hand_out(s), asio::detached);
    });
  }
};

struct forwarding_worker {
  static constexpr std::string_view name = "forwarding_worker";
  /// Subscribes to `source`, then streams back everything it hands this worker. Returns (and
  /// the caller's `run` with it) once subscribed.
  static constexpr rp::direct_pipe_rpc<forwarding_worker, rp::worker<stream_worker>, std::int64_t>
      forward{"forward"};

  static asio::awaitable<void> relay(rp::connection<stream_worker> source,
                                     rp::stream_reader<std::int64_t> in,
                                     rp::stream_writer<std::int64_t> out) {
    try {
      while (auto n = co_await in.next())
        if (!co_await out.write(*n)) break;
      out.close();
    } catch (const rp::rpc_error& e) {
      out.close_with_error(e.get());  // the master learns why its stream ended
    }
    source.close();
  }

  static void implement(rp::implementations<forwarding_worker>& impl) {
    impl.add(forward,
             [](rp::worker<stream_worker> source,
                rp::stream_writer<std::int64_t> out) -> asio::awaitable<void> {
               auto conn = co_await rp::connect(source);
               auto in = co_await conn.run(stream_worker::subscribe);
               auto executor = co_await asio::this_coro::executor;
               asio::co_spawn(executor, relay(std::move(conn), std::move(in), std::move(out)),
                              asio::detached);
             });
  }
};

/// Reads `stream` to its end, counting in `seen` how often each number arrives.
asio::awaitable<void> tally(rp::stream_reader<std::int64_t>& stream, std::vector<int>& seen) {
  while (auto n = co_await stream.next()) ++seen.at(static_cast<std::size_t>(*n));
}

/// `tally` for every stream at once: the stream worker writes to them in turn, so reading one
/// at a time could leave it waiting on a full stream that nobody reads yet.
asio::awaitable<void> tally_all(std::vector<rp::stream_reader<std::int64_t>>& streams,
                                std::vector<int>& seen) {
  auto executor = co_await asio::this_coro::executor;
  using task_op = decltype(asio::co_spawn(executor, tally(streams[0], seen), asio::deferred));
  std::vector<task_op> ops;
  for (auto& stream : streams)
    ops.push_back(asio::co_spawn(executor, tally(stream, seen), asio::deferred));
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  auto done = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (const std::exception_ptr& e : std::get<1>(done))
    if (e) std::rethrow_exception(e);
}

asio::awaitable<int> master_main(const po::variables_map& options) {
  const auto count = options["num-elts"].as<std::int64_t>();
  const int workers = options["num-workers"].as<int>();
  auto source = co_await rp::spawn<stream_worker>(rp::shutdown_on::heartbeater_timeout,
                                                  rp::spawn_options().with_name("stream"), count);
  std::vector<rp::connection<forwarding_worker>> forwarders;
  std::vector<rp::stream_reader<std::int64_t>> streams;
  for (int i = 0; i < workers; ++i) {
    std::string name = "forwarder-" + std::to_string(i);
    auto conn = co_await rp::spawn<forwarding_worker>(rp::shutdown_on::connection_closed,
                                                      rp::spawn_options().with_name(name));
    auto stream = co_await conn.run(forwarding_worker::forward, source);
    forwarders.push_back(std::move(conn));
    streams.push_back(std::move(stream));
  }
  auto control = co_await rp::connect(source);
  co_await control.run(stream_worker::start);
  std::vector<int> seen(static_cast<std::size_t>(count), 0);
  co_await tally_all(streams, seen);
  bool once_each = std::ranges::all_of(seen, [](int times) { return times == 1; });
  std::cout << (once_each ? "Ok." : "Some numbers were lost or repeated.") << std::endl;
  co_return once_each ? 0 : 1;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<stream_worker>().add_worker<forwarding_worker>();
  po::options_description options("stream_workers");
  // clang-format off: one option per line
  options.add_options()("num-elts", po::value<std::int64_t>()->default_value(10), "numbers")(
      "num-workers", po::value<int>()->default_value(4), "forwarding workers");
  // clang-format on
  return app.run(argc, argv, options, master_main);
}
