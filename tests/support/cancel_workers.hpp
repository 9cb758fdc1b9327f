// A worker whose implementations record the cancellations they observe (deadline_test.cpp).
#pragma once

#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tests {

struct cancel_worker {
  static constexpr std::string_view name = "cancel_worker";
  struct state {
    std::int64_t observed = 0;  ///< Cancellations its implementations saw.
    std::optional<rpc_parallel::connection<cancel_worker>> next;
    std::vector<std::string> held;  ///< Memory kept by `hold_mib`.
  };
  static state init_worker_state(rpc_parallel::unit) { return {}; }

  /// Sleeps `ms` in a coroutine; counts an abort of the sleep.
  static constexpr rpc_parallel::rpc<cancel_worker, std::int64_t, std::int64_t> sleep{"sleep"};
  /// Spins up to `ms` in a plain function, polling rpc_parallel::cancelled(); counts a stop.
  static constexpr rpc_parallel::rpc<cancel_worker, std::int64_t, std::int64_t> spin{"spin"};
  /// Spins `ms` in a plain function without ever looking at rpc_parallel::cancelled().
  static constexpr rpc_parallel::rpc<cancel_worker, std::int64_t, std::int64_t> spin_deaf{
      "spin_deaf"};
  static constexpr rpc_parallel::rpc<cancel_worker, rpc_parallel::unit, std::int64_t> observed{
      "observed"};
  static constexpr rpc_parallel::rpc<cancel_worker, rpc_parallel::unit, std::int64_t> pid{"pid"};
  /// Keeps `mib` more MiB (touched, so resident) for the worker's life; returns its pid.
  static constexpr rpc_parallel::rpc<cancel_worker, std::int64_t, std::int64_t> hold_mib{
      "hold_mib"};
  /// Spawns the next worker of a chain (this one's own child) and keeps a connection to it.
  static constexpr rpc_parallel::rpc<cancel_worker, rpc_parallel::unit, rpc_parallel::unit>
      spawn_next{"spawn_next"};
  /// Calls `sleep(ms)` on the next worker, with no options: only an inherited deadline.
  static constexpr rpc_parallel::rpc<cancel_worker, std::int64_t, std::int64_t> relay{"relay"};
  static constexpr rpc_parallel::rpc<cancel_worker, rpc_parallel::unit, std::int64_t> next_observed{
      "next_observed"};

  static boost::asio::awaitable<std::int64_t> sleep_for(state& s, std::int64_t ms) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                    std::chrono::milliseconds(ms));
    try {
      co_await timer.async_wait(boost::asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
      if (e.code() == boost::asio::error::operation_aborted) ++s.observed;
      throw;
    }
    co_return ms;
  }

  static boost::asio::awaitable<std::int64_t> relay_to_next(state& s, std::int64_t ms) {
    try {
      std::int64_t slept = co_await s.next->run(sleep, ms);
      co_return slept;
    } catch (const rpc_parallel::rpc_error&) {
      ++s.observed;
      throw;
    }
  }

  static boost::asio::awaitable<rpc_parallel::unit> start_next(state& s) {
    auto next = co_await rpc_parallel::spawn<cancel_worker>(
        rpc_parallel::shutdown_on::connection_closed,
        rpc_parallel::spawn_options().with_name("chain-end"), rpc_parallel::unit{});
    s.next.emplace(std::move(next));
    co_return rpc_parallel::unit{};
  }

  static boost::asio::awaitable<std::int64_t> ask_next(state& s) {
    std::int64_t n = co_await s.next->run(observed);
    co_return n;
  }

  // Named, so that a stack taken while it runs has a name to show (status_test).
  [[gnu::noinline]] static std::int64_t spin_until_cancelled(state& s, std::int64_t ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    std::int64_t polls = 0;
    while (std::chrono::steady_clock::now() < end) {
      ++polls;
      if (rpc_parallel::cancelled()) {
        ++s.observed;
        break;
      }
    }
    return polls;
  }

  static void implement(rpc_parallel::implementations<cancel_worker>& impl) {
    impl.add(sleep, [](state& s, std::int64_t ms) { return sleep_for(s, ms); });
    impl.add(spin, [](state& s, std::int64_t ms) { return spin_until_cancelled(s, ms); });
    impl.add(spin_deaf, [](std::int64_t ms) {
      auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      std::int64_t turns = 0;
      while (std::chrono::steady_clock::now() < end) ++turns;
      return turns;
    });
    impl.add(observed, [](state& s, rpc_parallel::unit) { return s.observed; });
    impl.add(pid, [](rpc_parallel::unit) { return static_cast<std::int64_t>(::getpid()); });
    impl.add(hold_mib, [](state& s, std::int64_t mib) {
      s.held.emplace_back(static_cast<std::size_t>(mib) << 20, 'x');
      return static_cast<std::int64_t>(::getpid());
    });
    impl.add(spawn_next, [](state& s, rpc_parallel::unit) { return start_next(s); });
    impl.add(relay, [](state& s, std::int64_t ms) { return relay_to_next(s, ms); });
    impl.add(next_observed, [](state& s, rpc_parallel::unit) { return ask_next(s); });
  }
};

}  // namespace tests
