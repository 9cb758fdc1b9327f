#include "stream_throughput.hpp"

#include "floors.hpp"
#include "report.hpp"
#include "stream_worker.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bench {
namespace {

namespace asio = boost::asio;
namespace rp = rpc_parallel;
using small_pipe = rp::pipe_rpc<stream_worker, std::int64_t, std::int64_t>;
constexpr double megabyte = 1e6;
constexpr std::uint64_t mebibyte = 1024 * 1024;

asio::awaitable<rp::connection<stream_worker>> spawn_streamer() {
  auto conn = co_await rp::spawn<stream_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_name("streamer"));
  co_return conn;
}

/// Values per second reading 0..n-1 from `fn`, from the call to the stream's end.
asio::awaitable<double> read_count(rp::connection<stream_worker>& conn, small_pipe fn,
                                   std::int64_t n) {
  auto start = clock_type::now();
  auto reader = co_await conn.run(fn, n);
  std::int64_t expected = 0;
  while (auto v = co_await reader.next()) {
    if (*v != expected) throw std::runtime_error("pipe_small_values: value out of order");
    ++expected;
  }
  if (expected != n) throw std::runtime_error("pipe_small_values: values missing");
  co_return static_cast<double>(n) / seconds_since(start);
}

/// How the worker sends its bulk values.
enum class bulk_source {
  moved,   ///< values it made beforehand, each moved into `write` (sent from its own buffer)
  copied,  ///< one kept string, written by reference (encoded: copied into each frame)
};

/// Bytes per second reading `n` values of `size` bytes, from the call to the stream's end.
asio::awaitable<double> read_chunks(rp::connection<stream_worker>& conn, std::uint64_t size,
                                    std::int64_t n, bulk_source source) {
  std::pair<std::uint64_t, std::int64_t> query{size, n};
  if (source == bulk_source::moved) co_await conn.run(stream_worker::make_values, query);
  auto start = clock_type::now();
  std::optional<rp::stream_reader<std::string>> reader;
  if (source == bulk_source::moved) {
    rp::unit nothing;
    auto r = co_await conn.run(stream_worker::send_made, nothing);
    reader.emplace(std::move(r));
  } else {
    auto r = co_await conn.run(stream_worker::chunks, query);
    reader.emplace(std::move(r));
  }
  std::uint64_t total = 0;
  while (auto v = co_await reader->next()) total += v->size();
  double elapsed = seconds_since(start);
  if (total != size * static_cast<std::uint64_t>(n))
    throw std::runtime_error("pipe_bulk: bytes missing");
  co_return static_cast<double>(total) / elapsed;
}

/// Our figure and the floor's, medians of `runs` interleaved samples, in MB/s.
asio::awaitable<void> bulk_figure(rp::connection<stream_worker>& conn, std::string name,
                                  std::uint64_t size, std::int64_t n, int runs, std::string goal) {
  const std::uint64_t bytes = size * static_cast<std::uint64_t>(n);
  std::vector<double> ours, copied, floor, floor_new_buffer;
  for (int i = 0; i < runs; ++i) {
    double rate = co_await read_chunks(conn, size, n, bulk_source::moved);
    ours.push_back(rate / megabyte);
    rate = co_await read_chunks(conn, size, n, bulk_source::copied);
    copied.push_back(rate / megabyte);
    floor.push_back(tcp_copy(bytes) / megabyte);
    if (n == 1) floor_new_buffer.push_back(tcp_copy(bytes, /*into_new_buffer=*/true) / megabyte);
  }
  std::string floor_name = "floor_tcp_copy_" + std::to_string(bytes / mebibyte) + "MiB";
  double a = percentile(ours, 0.5), b = percentile(floor, 0.5);
  report(name, a, "MB/s");
  report(floor_name, b, "MB/s");
  rate_ratio(name, a, b, goal);
  double kept = percentile(copied, 0.5);
  report(name + "_copied", kept, "MB/s");
  rate_ratio(name + "_copied", kept, b, "reported");
  if (floor_new_buffer.empty()) co_return;
  // One value must land in new memory, whose page faults cost about as much as the copy here.
  double c = percentile(floor_new_buffer, 0.5);
  report(floor_name + "_into_new_buffer", c, "MB/s");
  rate_ratio(name + "_vs_new_buffer_floor", a, c, "reported");
}

}  // namespace

asio::awaitable<void> measure_pipe_small_values(bool quick) {
  auto conn = co_await spawn_streamer();
  const std::int64_t values = quick ? 100000 : 1000000;
  const int runs = quick ? 1 : 3;
  std::vector<double> ours, batched, floor;
  for (int i = 0; i < runs; ++i) {
    double rate = co_await read_count(conn, stream_worker::count, values);
    ours.push_back(rate);
    rate = co_await read_count(conn, stream_worker::count_batched, values);
    batched.push_back(rate);
    floor.push_back(one_write_per_message(quick ? 20000 : 200000));
  }
  double a = percentile(ours, 0.5), b = percentile(batched, 0.5), f = percentile(floor, 0.5);
  report("pipe_small_values_per_second", a, "values/s");
  report("pipe_small_values_batched_per_second", b, "values/s");
  report("floor_one_write_per_message", f, "messages/s");
  rate_ratio("pipe_small_values", a, f, ">= 0.3x");
  rate_ratio("pipe_small_values_batched", b, f, "reported");
}

asio::awaitable<void> measure_pipe_bulk(bool quick) {
  auto conn = co_await spawn_streamer();
  // Names are locals: a string temporary in a co_await expression trips g++ 12
  // (docs/gcc12_coroutines.md).
  std::string one_value = "pipe_one_64MiB_value";
  std::string half = ">= 0.5x", most = ">= 0.8x";
  co_await bulk_figure(conn, one_value, 64 * mebibyte, 1, quick ? 3 : 5, half);
  std::int64_t chunks = quick ? 256 : 1024;
  std::string chunked = "pipe_1MiB_chunks_" + std::to_string(chunks) + "MiB";
  co_await bulk_figure(conn, chunked, mebibyte, chunks, quick ? 1 : 3, most);
}

}  // namespace bench
