// User code never starves the framework: busy is not dead, in either direction, and a busy
// worker still takes connections (the guardian thread, detail/guardian.hpp).
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/map_reduce.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <thread>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::echo_worker;
using tests::unit;

namespace {

// A peer is declared dead after 1 s without an answer: far less than the work below takes.
rp::rpc_settings quick_heartbeat() {
  rp::rpc_settings s;
  s.heartbeat_interval = 250ms;
  s.heartbeat_timeout = 1s;
  s.handshake_timeout = 1s;
  return s;
}

constexpr std::size_t sixteen_mib = 16 * 1024 * 1024;

/// Runs `op` in the background; `done` is cancelled (so it can be awaited) when it finishes.
template <class T>
void start(asio::awaitable<T> op, std::optional<rp::or_error<T>>& result,
           asio::steady_timer& done) {
  asio::co_spawn(
      done.get_executor(),
      [](asio::awaitable<T> op, std::optional<rp::or_error<T>>& result,
         asio::steady_timer& done) -> asio::awaitable<void> {
        result.emplace(co_await rp::detail::catch_error(std::move(op)));
        done.cancel();
      }(std::move(op), result, done),
      asio::detached);
}

/// Waits until `start`'s operation has put its result (it may have done so already).
template <class T>
asio::awaitable<void> wait_for(const std::optional<rp::or_error<T>>& result,
                               asio::steady_timer& done) {
  while (!result) {
    boost::system::error_code ec;
    co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(guardian_suite)

BOOST_AUTO_TEST_CASE(worker_spinning_with_16_mib_queued_toward_it_is_not_declared_dead) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "busy");
        auto executor = co_await asio::this_coro::executor;
        // Both calls leave at once: the second's 16 MiB wait in the worker's socket for the
        // whole of the first, a 5 s plain function that never yields.
        std::optional<rp::or_error<std::int64_t>> spin;
        std::optional<rp::or_error<std::string>> echo;
        asio::steady_timer spin_done(executor, asio::steady_timer::time_point::max());
        asio::steady_timer echo_done(executor, asio::steady_timer::time_point::max());
        start(conn.run(echo_worker::busy, 5000), spin, spin_done);
        start(conn.run(echo_worker::echo, std::string(sixteen_mib, 'q')), echo, echo_done);
        co_await wait_for(spin, spin_done);
        co_await wait_for(echo, echo_done);
        BOOST_TEST(spin->has_value(), (spin->has_error() ? spin->error().message : ""));
        BOOST_REQUIRE_MESSAGE(echo->has_value(), (echo->has_error() ? echo->error().message : ""));
        BOOST_TEST(echo->value().size() == sixteen_mib + 5);  // "busy:" + the query
      },
      60s, quick_heartbeat());
}

BOOST_AUTO_TEST_CASE(master_blocked_while_a_worker_sends_it_16_mib_keeps_the_worker) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "sender");
        auto executor = co_await asio::this_coro::executor;
        std::optional<rp::or_error<std::string>> big;
        asio::steady_timer done(executor, asio::steady_timer::time_point::max());
        start(conn.run(echo_worker::big, sixteen_mib), big, done);
        co_await asio::post(executor, asio::use_awaitable);  // the call is on its way
        // A synchronous step of the master's own: its thread answers nothing for 4 s while the
        // 16 MiB reply arrives.
        std::this_thread::sleep_for(4s);
        co_await wait_for(big, done);
        BOOST_REQUIRE_MESSAGE(big->has_value(), (big->has_error() ? big->error().message : ""));
        BOOST_TEST(big->value().size() == sixteen_mib);
        std::string after = co_await conn.run(echo_worker::echo, "still here");
        BOOST_TEST(after == "sender:still here");
      },
      60s, quick_heartbeat());
}

BOOST_AUTO_TEST_CASE(second_connection_to_a_busy_worker_authenticates_and_is_served) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                                 rp::spawn_options(), "spinner");
        auto first = co_await rp::connect(w);
        auto executor = co_await asio::this_coro::executor;
        std::optional<rp::or_error<std::int64_t>> spin;
        asio::steady_timer spin_done(executor, asio::steady_timer::time_point::max());
        start(first.run(echo_worker::busy, 3000), spin, spin_done);
        // Well into the spin (which lasts three handshake timeouts), a second client comes.
        asio::steady_timer later(executor, 300ms);
        co_await later.async_wait(asio::use_awaitable);
        auto second = co_await rp::try_connect(w);
        BOOST_REQUIRE_MESSAGE(second.has_value(),
                              (second.has_error() ? second.error().message : ""));
        std::string answer = co_await second.value().run(echo_worker::echo, "second");
        BOOST_TEST(answer == "spinner:second");
        co_await wait_for(spin, spin_done);
        BOOST_TEST(spin->has_value());
      },
      60s, quick_heartbeat());
}

BOOST_AUTO_TEST_CASE(map_reduce_with_4_mb_inputs_and_items_longer_than_the_heartbeat_finishes) {
  tests::run(
      []() -> asio::awaitable<void> {
        // Batches of one, two in flight per worker: the next 4 MB input waits in each worker's
        // socket while it computes an item for twice the heartbeat timeout.
        std::vector<std::string> inputs(4, std::string(4 * 1000 * 1000, 'i'));
        auto sizes = co_await rp::map<tests::slow_size>(
            rp::map_config().with_local(2).with_batch_size(1), inputs, rp::unit{});
        BOOST_TEST(sizes == std::vector<std::uint64_t>(4, 4 * 1000 * 1000));
      },
      60s, quick_heartbeat());
}

BOOST_AUTO_TEST_SUITE_END()
