// The worker type of the stream benchmarks (stream_throughput.cpp, stream_memory.cpp): pipes of
// small values, of large chunks, and one that floods a slow reader, plus what the memory figure
// asks of the worker.
#pragma once

#include "proc_memory.hpp"

#include <rpc_parallel/rpc_parallel.hpp>

#include <unistd.h>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bench {

struct stream_worker {
  static constexpr std::string_view name = "bench_stream_worker";
  struct state {
    std::string chunk;               // the value `chunks` sends, built once per size
    std::vector<std::string> made;   // the values `send_made` moves out, built by `make_values`
    std::int64_t flood_written = 0;  // values the latest `flood` has written so far
  };
  using unit = rpc_parallel::unit;
  template <class Q, class T>
  using pipe = rpc_parallel::pipe_rpc<stream_worker, Q, T>;

  /// 0..n-1, each through `co_await write` (the writer waits only when the window is full).
  static constexpr pipe<std::int64_t, std::int64_t> count{"count"};
  /// 0..n-1 through `write_without_pushback`, awaiting `flushed()` every 1024 values.
  static constexpr pipe<std::int64_t, std::int64_t> count_batched{"count_batched"};
  /// (size, n): n strings of `size` bytes, waiting whenever the window is full.
  static constexpr pipe<std::pair<std::uint64_t, std::int64_t>, std::string> chunks{"chunks"};
  /// (size, n): builds n strings of `size` bytes for `send_made` (outside the timing).
  static constexpr rpc_parallel::rpc<stream_worker, std::pair<std::uint64_t, std::int64_t>,
                                     rpc_parallel::unit>
      make_values{"make_values"};
  /// The strings `make_values` built, each moved into `co_await write` (sent from its buffer).
  static constexpr pipe<rpc_parallel::unit, std::string> send_made{"send_made"};
  /// Strings of the given size, through `co_await write`, for as long as the reader takes them.
  static constexpr pipe<std::uint64_t, std::string> flood{"flood"};
  static constexpr rpc_parallel::rpc<stream_worker, unit, std::int64_t> flood_written{
      "flood_written"};
  /// Resets this worker's peak RSS (see `reset_peak_memory`); returns its pid, or -pid when the
  /// kernel refused the reset.
  static constexpr rpc_parallel::rpc<stream_worker, unit, std::int64_t> reset_peak{"reset_peak"};
  /// The size of its argument; and a string of the given size (for the large-value figures).
  static constexpr rpc_parallel::rpc<stream_worker, std::string, std::uint64_t> size_of{"size_of"};
  static constexpr rpc_parallel::rpc<stream_worker, std::uint64_t, std::string> make{"make"};
  /// This worker's peak RSS since its last reset, in bytes.
  static constexpr rpc_parallel::rpc<stream_worker, unit, std::uint64_t> peak{"peak"};

  static void implement(rpc_parallel::implementations<stream_worker>& impl) {
    using boost::asio::awaitable;
    using rpc_parallel::stream_writer;
    impl.add(count, [](std::int64_t n, stream_writer<std::int64_t> w) -> awaitable<void> {
      for (std::int64_t i = 0; i < n; ++i)
        if (!co_await w.write(i)) co_return;
    });
    impl.add(count_batched, [](std::int64_t n, stream_writer<std::int64_t> w) -> awaitable<void> {
      for (std::int64_t i = 0; i < n; ++i) {
        if (!w.write_without_pushback(i)) co_return;
        if (i % 1024 == 1023) co_await w.flushed();
      }
    });
    impl.add(chunks,
             [](state& s, std::pair<std::uint64_t, std::int64_t> q,
                stream_writer<std::string> w) -> awaitable<void> {
               if (s.chunk.size() != q.first) s.chunk.assign(q.first, 'c');
               // By reference, unlike write(T): the chunk is not copied before it is encoded.
               for (std::int64_t i = 0; i < q.second; ++i) {
                 if (!w.write_without_pushback(s.chunk)) co_return;
                 if (w.queued_bytes() > 0) co_await w.flushed();
               }
             });
    impl.add(make_values, [](state& s, std::pair<std::uint64_t, std::int64_t> q) {
      s.made.assign(static_cast<std::size_t>(q.second), std::string(q.first, 'v'));
      return unit{};
    });
    impl.add(send_made, [](state& s, unit, stream_writer<std::string> w) -> awaitable<void> {
      std::vector<std::string> values = std::move(s.made);
      for (std::string& v : values)
        if (!co_await w.write(std::move(v))) co_return;
    });
    impl.add(flood,
             [](state& s, std::uint64_t size, stream_writer<std::string> w) -> awaitable<void> {
               std::string value(size, 'f');
               s.flood_written = 0;
               for (;;) {
                 if (!co_await w.write(value)) co_return;
                 ++s.flood_written;
               }
             });
    impl.add(flood_written, [](state& s, unit) { return s.flood_written; });
    impl.add(reset_peak, [](unit) {
      std::int64_t pid = ::getpid();
      return reset_peak_memory() ? pid : -pid;
    });
    impl.add(size_of, [](std::string value) { return static_cast<std::uint64_t>(value.size()); });
    impl.add(make, [](std::uint64_t size) { return std::string(size, 'm'); });
    impl.add(peak, [](unit) { return memory_of(::getpid()).peak; });
  }
};

}  // namespace bench
