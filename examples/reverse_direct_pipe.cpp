// examples/reverse_pipe.cpp with the master writing each stream itself (Rpc_parallel's
// reverse_direct_pipe example): ten shard workers each consume a stream of numbers and return a
// summary of it. A writer function per shard sends its share of 0..999 (i mod 10 = shard),
// waiting for each value to go out, then closes the stream.
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace rp = rpc_parallel;

constexpr int shards = 10;
constexpr int numbers = 1000;

struct shard_worker {
  static constexpr std::string_view name = "shard_worker";
  using spawn_arg = int;  // the shard's id
  struct state {
    int id;
  };
  static state init_worker_state(int id) { return {id}; }

  /// Reads numbers until the stream ends; returns how many, the first, the last and their sum.
  static constexpr rp::reverse_pipe_rpc<shard_worker, rp::unit, std::int64_t, std::string> consume{
      "consume"};

  static asio::awaitable<std::string> summarise(state& s, rp::unit,
                                                rp::stream_reader<std::int64_t> in) {
    std::int64_t count = 0, first = 0, last = 0, sum = 0;
    while (auto n = co_await in.next()) {
      if (count++ == 0) first = *n;
      last = *n;
      sum += *n;
    }
    co_return "shard " + std::to_string(s.id) + " got " + std::to_string(count) + " numbers, " +
        std::to_string(first) + " to " + std::to_string(last) + ", sum " + std::to_string(sum);
  }
  static void implement(rp::implementations<shard_worker>& impl) { impl.add(consume, summarise); }
};

/// Streams shard `id` its numbers and returns its summary. `shard` outlives the call.
asio::awaitable<std::string> feed(rp::connection<shard_worker>& shard, int id) {
  auto write_mine = [id](rp::stream_writer<std::int64_t> out) -> asio::awaitable<void> {
    for (std::int64_t i = id; i < numbers; i += shards) {
      if (!out.write_without_pushback(i)) co_return;  // the shard stopped reading
      co_await out.flushed();
    }
    out.close();
  };
  // A named lambda, not a temporary inside the co_await (docs/gcc12_coroutines.md).
  std::string summary = co_await shard.run(shard_worker::consume, rp::unit{}, write_mine);
  co_return summary;
}

/// Runs `tasks` concurrently and returns their results in the tasks' order.
asio::awaitable<std::vector<std::string>> all(std::vector<asio::awaitable<std::string>> tasks) {
  auto executor = co_await asio::this_coro::executor;
  using task_op = decltype(asio::co_spawn(executor, std::move(tasks.front()), asio::deferred));
  std::vector<task_op> ops;
  for (auto& task : tasks) ops.push_back(asio::co_spawn(executor, std::move(task), asio::deferred));
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  auto done = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (const std::exception_ptr& e : std::get<1>(done))
    if (e) std::rethrow_exception(e);
  co_return std::get<2>(done);
}

asio::awaitable<int> master_main() {
  std::vector<rp::connection<shard_worker>> connections;
  for (int id = 0; id < shards; ++id) {
    std::string name = "shard-" + std::to_string(id);
    auto conn = co_await rp::spawn<shard_worker>(rp::shutdown_on::connection_closed,
                                                 rp::spawn_options().with_name(name), id);
    connections.push_back(std::move(conn));
  }
  std::vector<asio::awaitable<std::string>> feeds;
  for (int id = 0; id < shards; ++id) feeds.push_back(feed(connections[id], id));
  auto summaries = co_await all(std::move(feeds));
  for (const std::string& summary : summaries) std::cout << summary << "\n";
  std::cout.flush();
  co_return 0;
}

int main(int argc, char** argv) {
  rp::app app;
  app.add_worker<shard_worker>();
  return app.run(argc, argv, master_main);
}
