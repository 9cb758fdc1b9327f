// Streams: pipes both ways, direct pipes, state RPCs, log subscription, flow control, faults.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>
#include <ranges>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::stream_worker;
using tests::unit;

namespace {

asio::awaitable<rp::connection<stream_worker>> spawn_stream_worker() {
  auto w = co_await rp::spawn<stream_worker>(rp::shutdown_on::heartbeater_timeout,
                                             rp::spawn_options().with_name("streamer"), unit{});
  auto c = co_await rp::connect(w);
  co_return c;
}

bool contains(const std::vector<std::string>& events, std::string_view needle) {
  return std::ranges::any_of(
      events, [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

/// Asks the worker for its events until one contains `needle`, for up to `deadline`.
asio::awaitable<std::vector<std::string>> wait_for_event(rp::connection<stream_worker>& c,
                                                         std::string needle,
                                                         std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto events = co_await c.run(stream_worker::events);
    if (contains(events, needle) || std::chrono::steady_clock::now() > until) co_return events;
    timer.expires_after(5ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

template <class T>
asio::awaitable<std::vector<T>> read_all(rp::stream_reader<T>& reader) {
  std::vector<T> values;
  while (auto v = co_await reader.next()) values.push_back(std::move(*v));
  co_return values;
}

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = i;
  return values;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_suite)

BOOST_AUTO_TEST_CASE(pipe_delivers_every_value_in_order_then_ends) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto reader = co_await c.run(stream_worker::count, 1000);
    BOOST_TEST((reader.closed_by() == rp::stream_closed_by::nobody));
    auto values = co_await read_all(reader);
    BOOST_TEST((values == iota(1000)));
    BOOST_TEST((reader.closed_by() == rp::stream_closed_by::remote_side));
  });
}

BOOST_AUTO_TEST_CASE(pipe_implementation_error_reaches_the_reader_after_its_values) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto reader = co_await c.run(stream_worker::fail_after, 5);
    std::vector<std::int64_t> values;
    std::string error;
    try {
      while (auto v = co_await reader.next()) values.push_back(*v);
    } catch (const rp::rpc_error& e) {
      error = e.what();
    }
    BOOST_TEST((values == iota(5)));
    BOOST_TEST(error.find("stream_worker.fail_after") != std::string::npos);
    BOOST_TEST(error.find("failed after 5 values") != std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(slow_reader_holds_back_the_writer_and_closing_it_stops_the_producer) {
  rp::rpc_settings settings;
  settings.stream_window = 64 * 1024;
  tests::run(
      []() -> asio::awaitable<void> {
        auto c = co_await spawn_stream_worker();
        auto probe = co_await rp::connect(c.peer());
        const std::int64_t value_size = 4096;
        auto reader = co_await c.run(stream_worker::flood, std::uint64_t(value_size));
        // The writer blocks once a window is in flight; nothing is read yet.
        std::vector<std::int64_t> status;
        auto until = std::chrono::steady_clock::now() + 10s;
        asio::steady_timer timer(co_await asio::this_coro::executor);
        do {
          status = co_await probe.run(stream_worker::flood_status);
          timer.expires_after(5ms);
          co_await timer.async_wait(asio::use_awaitable);
        } while (status[1] < 0 && std::chrono::steady_clock::now() < until);
        const std::int64_t window_values = 64 * 1024 / (value_size + 16) + 1;
        BOOST_TEST(status[1] >= 1);
        BOOST_TEST(status[0] <= window_values + 1);
        for (int i = 0; i < 100; ++i) {
          auto v = co_await reader.next();
          BOOST_REQUIRE(v.has_value());
          BOOST_TEST(v->size() == std::size_t(value_size));
        }
        status = co_await probe.run(stream_worker::flood_status);
        BOOST_TEST(status[0] <= 100 + window_values + 1);  // never more than a window ahead
        reader.close();
        BOOST_TEST((reader.closed_by() == rp::stream_closed_by::local_side));
        auto after_close = co_await reader.next();
        BOOST_TEST(!after_close.has_value());
        auto events = co_await wait_for_event(probe, "flood stopped", 10s);
        BOOST_TEST(contains(events, "flood stopped"));
        std::int64_t pid =
            co_await c.run(stream_worker::pid);  // the worker and the connection go on
        BOOST_TEST(pid > 0);
      },
      60s, settings);
}

BOOST_AUTO_TEST_CASE(direct_pipe_is_written_by_a_background_task_after_the_call_returns) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto reader = co_await c.run(stream_worker::ticks, 10);
    auto values = co_await read_all(reader);
    BOOST_TEST((values == iota(10)));
    BOOST_TEST((reader.closed_by() == rp::stream_closed_by::remote_side));
  });
}

BOOST_AUTO_TEST_CASE(aborting_a_direct_pipe_closes_the_workers_writer) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto reader = co_await c.run(stream_worker::ticks, -1);
    for (std::int64_t i = 0; i < 3; ++i) {
      auto v = co_await reader.next();
      BOOST_TEST((v == std::optional<std::int64_t>(i)));
    }
    c.abort(reader.id());
    std::int64_t extra = 0;
    while (co_await reader.next()) ++extra;  // values already in flight, then the end
    BOOST_TEST((reader.closed_by() == rp::stream_closed_by::remote_side));
    auto events = co_await wait_for_event(c, "ticks writer closed", 10s);
    BOOST_TEST(contains(events, "ticks writer closed"));
    BOOST_TEST(extra < 1000);
  });
}

BOOST_AUTO_TEST_CASE(reverse_pipe_consumes_a_range_and_may_stop_early) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    std::int64_t total =
        co_await c.run(stream_worker::sum, std::string("range"), std::views::iota(0, 1000));
    BOOST_TEST(total == 499500);
    // The worker returns after 3 values; the rest of a (practically endless) range is not sent.
    std::int64_t first = co_await c.run(stream_worker::take, 3, std::views::iota(std::int64_t(0)));
    BOOST_TEST(first == 3);
    auto events = co_await c.run(stream_worker::events);
    BOOST_TEST(contains(events, "range done"));
  });
}

BOOST_AUTO_TEST_CASE(reverse_pipe_consumes_what_a_writer_function_writes) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto produce = [](rp::stream_writer<std::int64_t> w) -> asio::awaitable<void> {
      for (std::int64_t i = 0; i < 1000; ++i) {
        if (!w.write_without_pushback(i)) co_return;
        co_await w.flushed();
      }
      w.close();
    };
    std::int64_t total = co_await c.run(stream_worker::sum, std::string("writer"), produce);
    BOOST_TEST(total == 499500);
  });
}

BOOST_AUTO_TEST_CASE(state_rpc_returns_the_state_then_its_updates) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto subscription = co_await c.run(stream_worker::greeting);
    BOOST_TEST(subscription.state == "hello world ");
    auto updates = co_await read_all(subscription.updates);
    BOOST_TEST(
        (updates == std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}));
  });
}

BOOST_AUTO_TEST_CASE(log_subscribers_each_get_messages_and_initialisation_logs) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto first = co_await c.subscribe_log();
    auto second = co_await c.subscribe_log();
    co_await c.run(stream_worker::log, std::string("worker log message"));
    for (auto* reader : {&first, &second}) {
      auto kept = co_await reader->next();
      BOOST_REQUIRE(kept.has_value());
      BOOST_TEST(kept->text == "initialising");
      auto live = co_await reader->next();
      BOOST_REQUIRE(live.has_value());
      BOOST_TEST(live->text == "worker log message");
      BOOST_TEST((live->level == rp::log_level::info));
      BOOST_TEST(live->time_ns >= kept->time_ns);
    }
    first.close();
    co_await c.run(stream_worker::log, std::string("second only"));
    auto live = co_await second.next();
    BOOST_REQUIRE(live.has_value());
    BOOST_TEST(live->text == "second only");
    auto closed = co_await first.next();
    BOOST_TEST(!closed.has_value());
  });
}

BOOST_AUTO_TEST_CASE(worker_death_mid_stream_ends_the_reader_with_disconnected) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    std::int64_t pid = co_await c.run(stream_worker::pid);
    auto reader = co_await c.run(stream_worker::count, std::int64_t(1) << 40);
    for (int i = 0; i < 10; ++i) BOOST_REQUIRE((co_await reader.next()).has_value());
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    std::optional<rp::error_kind> kind;
    try {
      while (co_await reader.next()) {
      }
    } catch (const rp::rpc_error& e) {
      kind = e.kind();
    }
    BOOST_TEST((kind == rp::error_kind::disconnected));
  });
}

BOOST_AUTO_TEST_CASE(caller_leaving_mid_reverse_stream_ends_the_consumer_with_an_error) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto dropped = std::make_shared<rp::connection<stream_worker>>(co_await rp::connect(c.peer()));
    auto caller_error = std::make_shared<std::string>();
    auto produce = [](rp::stream_writer<std::int64_t> w) -> asio::awaitable<void> {
      for (std::int64_t i = 0;; ++i)
        if (!co_await w.write(i)) co_return;
    };
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [dropped, caller_error, produce]() -> asio::awaitable<void> {
          try {
            std::string label = "dropped";  // named: g++ 12 rule (a), docs/gcc12_coroutines.md
            (void)co_await dropped->run(stream_worker::sum, label, produce);
          } catch (const rp::rpc_error& e) {
            *caller_error = e.what();
          }
        },
        asio::detached);
    auto events = co_await wait_for_event(c, "dropped receiving", 10s);
    BOOST_REQUIRE(contains(events, "dropped receiving"));
    std::int64_t active = co_await c.run(stream_worker::active_sums);
    BOOST_TEST(active == 1);
    dropped->close();
    events = co_await wait_for_event(c, "dropped failed", 10s);
    BOOST_TEST(contains(events, "dropped failed"));
    BOOST_TEST(contains(events, "connection was lost"));
    active = co_await c.run(stream_worker::active_sums);
    BOOST_TEST(active == 0);  // its state is gone
  });
}

BOOST_AUTO_TEST_CASE(oversized_values_are_refused_by_their_sender_and_the_connection_lives) {
  rp::rpc_settings settings;
  settings.max_message_size = 64 * 1024;
  tests::run(
      []() -> asio::awaitable<void> {
        auto c = co_await spawn_stream_worker();
        auto big = co_await c.run(stream_worker::blob, std::uint64_t(100'000));
        std::string worker_side;
        try {
          (void)co_await big.next();
        } catch (const rp::rpc_error& e) {
          worker_side = e.what();
        }
        BOOST_TEST(worker_side.find("exceeds max_message_size") != std::string::npos);
        auto small = co_await c.run(stream_worker::blob, std::uint64_t(10));
        auto value = co_await small.next();
        BOOST_TEST((value == std::optional<std::string>(std::string(10, 'b'))));

        std::vector<std::string> values{"abc", std::string(100'000, 'x')};
        std::string caller_side;
        try {
          (void)co_await c.run(stream_worker::total_length, unit{}, values);
        } catch (const rp::rpc_error& e) {
          caller_side = e.what();
        }
        BOOST_TEST(caller_side.find("exceeds max_message_size") != std::string::npos, caller_side);
        std::vector<std::string> fine{"abc", "de"};
        std::uint64_t length = co_await c.run(stream_worker::total_length, unit{}, fine);
        BOOST_TEST(length == 5u);
      },
      60s, settings);
}

BOOST_AUTO_TEST_CASE(large_values_cross_in_fragments_both_ways) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    auto big = co_await c.run(stream_worker::blob, std::uint64_t(20'000'000));
    auto value = co_await big.next();
    BOOST_REQUIRE(value.has_value());
    BOOST_TEST(value->size() == 20'000'000u);
    BOOST_TEST((value->find_first_not_of('b') == std::string::npos));
    std::vector<std::string> values{std::string(5'000'000, 'x'), "tiny",
                                    std::string(3'000'001, 'y')};
    std::uint64_t length = co_await c.run(stream_worker::total_length, unit{}, values);
    BOOST_TEST(length == 8'000'005u);
  });
}

BOOST_AUTO_TEST_CASE(strings_moved_into_write_arrive_byte_for_byte_whatever_their_size) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    // Packed with other frames; one frame behind its own header; fragments of 1 MiB; and a
    // string of exactly one fragment's payload.
    std::vector<std::uint64_t> sizes{0, 10, 16'385, 100'000, 3'000'001, 1024 * 1024, 7};
    auto values = co_await c.run(stream_worker::patterns, sizes);
    for (std::uint64_t size : sizes) {
      auto value = co_await values.next();
      BOOST_REQUIRE(value.has_value());
      BOOST_TEST(value->size() == size);
      BOOST_TEST((*value == tests::patterned(size)), "the string of " << size << " bytes differs");
    }
    auto end = co_await values.next();
    BOOST_TEST(!end.has_value());
  });
}

BOOST_AUTO_TEST_CASE(many_streams_and_calls_interleave_on_one_connection) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_stream_worker();
    std::vector<rp::stream_reader<std::int64_t>> readers;
    for (int i = 0; i < 16; ++i) readers.push_back(co_await c.run(stream_worker::count, 2000));
    bool in_order = true;
    for (std::int64_t i = 0; i < 2000; ++i) {
      for (auto& reader : readers) {
        auto v = co_await reader.next();
        in_order = in_order && v == std::optional<std::int64_t>(i);
      }
      if (i % 500 == 0) {
        std::int64_t pid = co_await c.run(stream_worker::pid);
        BOOST_TEST(pid > 0);
      }
    }
    BOOST_TEST(in_order);
    for (auto& reader : readers) {
      auto end = co_await reader.next();
      BOOST_TEST(!end.has_value());
    }
  });
}

BOOST_AUTO_TEST_SUITE_END()
