// A worker type with one function of every streaming kind, for tests/stream_test.cpp.
#pragma once

#include <rpc_parallel/for_testing.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tests {

/// `size` bytes whose byte i is i mod 251 (a prime, so no power-of-two offset keeps the pattern).
inline std::string patterned(std::uint64_t size) {
  std::string s(size, '\0');
  for (std::uint64_t i = 0; i < size; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}

struct stream_worker {
  static constexpr std::string_view name = "stream_worker";
  struct state {
    std::vector<std::string> events;  // what the implementations observed, in order
    std::int64_t flood_written = 0;
    std::int64_t flood_first_block = -1;
    std::int64_t active_sums = 0;
  };
  static state init_worker_state(rpc_parallel::unit) {
    rpc_parallel::write_log("initialising");
    return {};
  }

  using unit = rpc_parallel::unit;
  template <class Q, class R>
  using rpc = rpc_parallel::rpc<stream_worker, Q, R>;

  /// 0..n-1 with pushback.
  static constexpr rpc_parallel::pipe_rpc<stream_worker, std::int64_t, std::int64_t> count{"count"};
  /// n values, then throws.
  static constexpr rpc_parallel::pipe_rpc<stream_worker, std::int64_t, std::int64_t> fail_after{
      "fail_after"};
  /// One string of the given size.
  static constexpr rpc_parallel::pipe_rpc<stream_worker, std::uint64_t, std::string> blob{"blob"};
  /// A `patterned` string of each size, each moved into `co_await write`.
  static constexpr rpc_parallel::pipe_rpc<stream_worker, std::vector<std::uint64_t>, std::string>
      patterns{"patterns"};
  /// Values of the given size for as long as the reader takes them.
  static constexpr rpc_parallel::pipe_rpc<stream_worker, std::uint64_t, std::string> flood{"flood"};
  static constexpr rpc<unit, std::vector<std::int64_t>> flood_status{"flood_status"};
  /// n values (forever when n < 0) from a background task, one per millisecond.
  static constexpr rpc_parallel::direct_pipe_rpc<stream_worker, std::int64_t, std::int64_t> ticks{
      "ticks"};
  /// Sums the stream; records how it ended.
  static constexpr rpc_parallel::reverse_pipe_rpc<stream_worker, std::string, std::int64_t,
                                                  std::int64_t>
      sum{"sum"};
  /// Sums only the first k values, then returns.
  static constexpr rpc_parallel::reverse_pipe_rpc<stream_worker, std::int64_t, std::int64_t,
                                                  std::int64_t>
      take{"take"};
  /// Total length of the strings streamed.
  static constexpr rpc_parallel::reverse_pipe_rpc<stream_worker, unit, std::string, std::uint64_t>
      total_length{"total_length"};
  /// "hello world " then updates a..j.
  static constexpr rpc_parallel::state_rpc<stream_worker, unit, std::string, std::string> greeting{
      "greeting"};
  static constexpr rpc<std::string, unit> log{"log"};
  static constexpr rpc<unit, std::vector<std::string>> events{"events"};
  static constexpr rpc<unit, std::int64_t> active_sums{"active_sums"};
  static constexpr rpc<unit, std::int64_t> pid{"pid"};
  /// rpc_parallel::for_testing::open_stream_ends() in the worker.
  static constexpr rpc<unit, std::int64_t> open_streams{"open_streams"};

  static boost::asio::awaitable<void> tick(state* s, std::int64_t n,
                                           rpc_parallel::stream_writer<std::int64_t> w) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    for (std::int64_t i = 0; n < 0 || i < n; ++i) {
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(boost::asio::use_awaitable);
      if (!w.write_without_pushback(i)) break;
      co_await w.flushed();
    }
    if (w.is_closed()) s->events.push_back("ticks writer closed");
    w.close();
  }

  static void implement(rpc_parallel::implementations<stream_worker>& impl) {
    using rpc_parallel::stream_reader;
    using rpc_parallel::stream_writer;
    impl.add(count,
             [](state& s, std::int64_t n,
                stream_writer<std::int64_t> w) -> boost::asio::awaitable<void> {
               for (std::int64_t i = 0; i < n; ++i) {
                 if (!co_await w.write(i)) {
                   s.events.push_back("count stopped at " + std::to_string(i));
                   co_return;
                 }
               }
             });
    impl.add(fail_after,
             [](std::int64_t n, stream_writer<std::int64_t> w) -> boost::asio::awaitable<void> {
               for (std::int64_t i = 0; i < n; ++i)
                 if (!co_await w.write(i)) co_return;
               throw std::runtime_error("failed after " + std::to_string(n) + " values");
             });
    impl.add(blob,
             [](std::uint64_t size, stream_writer<std::string> w) -> boost::asio::awaitable<void> {
               (void)co_await w.write(std::string(size, 'b'));
             });
    impl.add(patterns,
             [](std::vector<std::uint64_t> sizes,
                stream_writer<std::string> w) -> boost::asio::awaitable<void> {
               for (std::uint64_t size : sizes) {
                 std::string value = patterned(size);
                 if (!co_await w.write(std::move(value))) co_return;
               }
             });
    impl.add(flood,
             [](state& s, std::uint64_t size,
                stream_writer<std::string> w) -> boost::asio::awaitable<void> {
               std::string value(size, 'f');
               for (;;) {
                 if (!w.write_without_pushback(value)) break;
                 ++s.flood_written;
                 if (w.queued_bytes() > 0 && s.flood_first_block < 0)
                   s.flood_first_block = s.flood_written;
                 co_await w.flushed();
                 if (w.is_closed()) break;
               }
               s.events.push_back("flood stopped");
             });
    impl.add(flood_status, [](state& s, unit) {
      return std::vector<std::int64_t>{s.flood_written, s.flood_first_block};
    });
    impl.add(ticks,
             [](state& s, std::int64_t n,
                stream_writer<std::int64_t> w) -> boost::asio::awaitable<void> {
               // The stream outlives this call: a background task writes it.
               boost::asio::co_spawn(co_await boost::asio::this_coro::executor,
                                     tick(&s, n, std::move(w)), boost::asio::detached);
             });
    impl.add(sum,
             [](state& s, std::string label,
                stream_reader<std::int64_t> r) -> boost::asio::awaitable<std::int64_t> {
               ++s.active_sums;
               struct leave {
                 state& s;
                 ~leave() { --s.active_sums; }
               } guard{s};
               std::int64_t total = 0, n = 0;
               try {
                 while (auto v = co_await r.next()) {
                   total += *v;
                   if (++n == 1) s.events.push_back(label + " receiving");
                 }
               } catch (const rpc_parallel::rpc_error& e) {
                 s.events.push_back(label + " failed: " + e.what());
                 throw;
               } catch (const boost::system::system_error& e) {
                 if (e.code() == boost::asio::error::operation_aborted)
                   s.events.push_back(label + " cancelled");
                 throw;
               }
               s.events.push_back(label + " done");
               co_return total;
             });
    impl.add(
        take,
        [](std::int64_t k, stream_reader<std::int64_t> r) -> boost::asio::awaitable<std::int64_t> {
          std::int64_t total = 0;
          for (std::int64_t i = 0; i < k; ++i) {
            auto v = co_await r.next();
            if (!v) break;
            total += *v;
          }
          co_return total;
        });
    impl.add(total_length,
             [](unit, stream_reader<std::string> r) -> boost::asio::awaitable<std::uint64_t> {
               std::uint64_t total = 0;
               while (auto v = co_await r.next()) total += v->size();
               co_return total;
             });
    impl.add(greeting, [](unit, stream_writer<std::string> w) {
      for (char c = 'a'; c <= 'j'; ++c) (void)w.write_without_pushback(std::string(1, c));
      w.close();
      return std::string("hello world ");
    });
    impl.add(log, [](std::string text) { rpc_parallel::write_log(std::move(text)); });
    impl.add(events, [](state& s, unit) { return s.events; });
    impl.add(open_streams, [](unit) { return rpc_parallel::for_testing::open_stream_ends(); });
    impl.add(active_sums, [](state& s, unit) { return s.active_sums; });
    impl.add(pid, [](unit) { return static_cast<std::int64_t>(::getpid()); });
  }
};

}  // namespace tests
