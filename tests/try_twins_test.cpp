// Every call kind has a throwing form and a `try_` twin that returns, as an or_error, what the
// throwing form would have thrown: refusals made before anything is sent included.
#include "support/map_functions.hpp"
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/serve.hpp>

#include <boost/test/unit_test.hpp>

#include <ranges>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::echo_worker;
using tests::failing_init_worker;
using tests::stream_worker;

namespace {

asio::awaitable<rp::connection<stream_worker>> closed_stream_connection() {
  auto conn = co_await rp::spawn<stream_worker>(
      rp::shutdown_on::connection_closed, rp::spawn_options().with_name("closed"), rp::unit{});
  conn.close();
  co_return conn;
}

bool names(const rp::error& e, const std::string& text) {
  return e.message.find(text) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(try_twins_suite)

BOOST_AUTO_TEST_CASE(stream_calls_return_their_readers_or_their_errors) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<stream_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options().with_name("twins"), rp::unit{});
    auto counted = co_await conn.try_run(stream_worker::count, 3);
    BOOST_REQUIRE(counted.has_value());
    std::vector<std::int64_t> seen;
    while (auto v = co_await counted->next()) seen.push_back(*v);
    BOOST_TEST((seen == std::vector<std::int64_t>{0, 1, 2}));

    auto greeted = co_await conn.try_run(stream_worker::greeting);
    BOOST_REQUIRE(greeted.has_value());

    std::vector<std::int64_t> values{1, 2, 3};
    std::string label = "twins";
    auto summed = co_await conn.try_run(stream_worker::sum, label, values);
    BOOST_REQUIRE(summed.has_value());
    BOOST_TEST(*summed == 6);
  });
}

BOOST_AUTO_TEST_CASE(stream_calls_on_a_closed_connection_return_disconnected) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await closed_stream_connection();
    auto pipe = co_await conn.try_run(stream_worker::count, 3);
    BOOST_REQUIRE(pipe.has_error());
    BOOST_TEST((pipe.error().kind == rp::error_kind::disconnected));
    auto state = co_await conn.try_run(stream_worker::greeting);
    BOOST_REQUIRE(state.has_error());
    BOOST_TEST((state.error().kind == rp::error_kind::disconnected));
    std::vector<std::int64_t> values{1, 2, 3};
    std::string label = "closed";
    auto reverse = co_await conn.try_run(stream_worker::sum, label, values);
    BOOST_REQUIRE(reverse.has_error());
    BOOST_TEST((reverse.error().kind == rp::error_kind::disconnected));
  });
}

BOOST_AUTO_TEST_CASE(a_stream_query_refused_before_it_is_sent_is_returned_not_thrown) {
  rp::rpc_settings settings;
  settings.max_message_size = 64 * 1024;
  tests::run(
      []() -> asio::awaitable<void> {
        auto conn =
            co_await rp::spawn<stream_worker>(rp::shutdown_on::connection_closed,
                                              rp::spawn_options().with_name("refused"), rp::unit{});
        std::string label(100'000, 'x');
        std::vector<std::int64_t> values{1, 2, 3};
        auto refused = co_await conn.try_run(stream_worker::sum, label, values);
        BOOST_REQUIRE(refused.has_error());
        BOOST_TEST(names(refused.error(), "exceeds max_message_size"), refused.error().message);
        // Nothing was sent: the connection still serves.
        std::string small = "small";
        BOOST_TEST(co_await conn.run(stream_worker::sum, small, values) == 6);
      },
      std::chrono::seconds(60), settings);
}

BOOST_AUTO_TEST_CASE(try_send_returns_the_refusal_of_a_closed_connection) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_name("sender"), "echo: ");
    BOOST_TEST(conn.try_send(echo_worker::print, "queued").has_value());
    conn.close();
    auto refused = conn.try_send(echo_worker::print, "too late");
    BOOST_REQUIRE(refused.has_error());
    BOOST_TEST((refused.error().kind == rp::error_kind::disconnected));
  });
}

BOOST_AUTO_TEST_CASE(try_shutdown_of_a_worker_already_gone_returns_disconnected) {
  tests::run([]() -> asio::awaitable<void> {
    auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::called_shutdown_function,
                                             rp::spawn_options().with_name("twice"));
    auto first = co_await rp::try_shutdown(w);
    BOOST_TEST(first.has_value());
    auto second = co_await rp::try_shutdown(w);
    BOOST_REQUIRE(second.has_error());
    BOOST_TEST((second.error().kind == rp::error_kind::disconnected), second.error().message);
  });
}

BOOST_AUTO_TEST_CASE(try_spawn_in_foreground_and_try_serve_return_the_init_error) {
  tests::run([]() -> asio::awaitable<void> {
    std::string refusal = "no foreground today";
    auto spawned = co_await rp::try_spawn_in_foreground<failing_init_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options().with_name("foreground"), refusal);
    BOOST_REQUIRE(spawned.has_error());
    BOOST_TEST(names(spawned.error(), "no foreground today"), spawned.error().message);
    std::string served_refusal = "no serving today";
    auto served = co_await rp::try_serve<failing_init_worker>(served_refusal);
    BOOST_REQUIRE(served.has_error());
    BOOST_TEST(names(served.error(), "no serving today"), served.error().message);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(map_reduce_calls_return_the_failing_item) {
  tests::run([]() -> asio::awaitable<void> {
    auto config = rp::map_config().with_local(2);
    auto mapped =
        co_await rp::try_map<tests::fails_on_537>(config, std::views::iota(0, 1000), rp::unit{});
    BOOST_REQUIRE(mapped.has_error());
    BOOST_TEST(names(mapped.error(), "item 537"), mapped.error().message);
    auto pool = co_await rp::map_pool<tests::fails_on_537>::start(config, rp::unit{});
    auto unordered = co_await rp::try_map_unordered<tests::fails_on_537>(
        pool, std::views::iota(500, 600), [](std::uint64_t, std::int64_t) {});
    BOOST_REQUIRE(unordered.has_error());
    BOOST_TEST(names(unordered.error(), "537 is not welcome"), unordered.error().message);
    auto fine = co_await rp::try_map<tests::fails_on_537>(pool, std::views::iota(0, 10));
    BOOST_REQUIRE(fine.has_value());
    BOOST_TEST(fine->size() == 10u);
  });
}

BOOST_AUTO_TEST_SUITE_END()
