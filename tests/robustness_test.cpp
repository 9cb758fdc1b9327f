// Bad input to a worker's port is refused while the worker keeps serving its real client.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/detail/auth.hpp>
#include <rpc_parallel/detail/node.hpp>
#include <rpc_parallel/detail/wire.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fstream>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using asio::ip::tcp;
using tests::echo_worker;
using tests::unit;

namespace {

using rp::detail::stream_socket;

/// TCP to the worker's address (the same-host socket takes the same bytes: see
/// same_host_test).
asio::awaitable<stream_socket> dial(const rp::worker_ref& w) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(tcp::endpoint(asio::ip::make_address(w.host), w.port),
                                asio::use_awaitable);
  co_return stream_socket(std::move(socket));
}

/// Reads until the peer closes; true if it closed within `timeout` (counting bytes it sent).
asio::awaitable<bool> closed_by_peer(stream_socket& socket, std::chrono::milliseconds timeout,
                                     std::size_t& received) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  bool timed_out = false;
  timer.async_wait([&socket, &timed_out](boost::system::error_code ec) {
    if (!ec) {
      timed_out = true;
      socket.close();
    }
  });
  char buffer[256];
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await socket.async_read_some(asio::buffer(buffer),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    received += n;
    if (ec) break;
  }
  timer.cancel();
  co_return !timed_out;
}

asio::awaitable<stream_socket> authenticated(const rp::worker_ref& w) {
  auto socket = co_await dial(w);
  co_await rp::detail::authenticate_client(socket, rp::detail::node::current().key(), 5s, "test",
                                           {});
  co_return socket;
}

std::string header(std::uint32_t size, std::uint8_t kind) {
  std::string frame = rp::detail::begin_frame();
  std::memcpy(frame.data(), &size, 4);
  frame[4] = static_cast<char>(kind);
  return frame;
}

asio::awaitable<void> expect_still_serving(rp::connection<echo_worker>& real, std::string text) {
  std::string answer = co_await real.run(echo_worker::echo, text);
  BOOST_TEST(answer == "r:" + text);
}

rp::rpc_settings small_settings() {
  rp::rpc_settings s;
  s.max_message_size = 1024 * 1024;
  s.handshake_timeout = 1s;
  return s;
}

/// A memory figure of process `pid` in KiB ("VmRSS", "VmHWM" for the peak), or 0.
std::size_t memory_kib(std::int64_t pid, const std::string& field = "VmRSS") {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoul(line.substr(field.size() + 1));
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(robustness_suite)

BOOST_AUTO_TEST_CASE(garbage_before_authentication_is_dropped_without_a_reply) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        auto target = real.peer().ref();
        auto socket = co_await dial(target);
        std::string garbage(200, '\x5a');
        co_await asio::async_write(socket, asio::buffer(garbage), asio::use_awaitable);
        std::size_t received = 0;
        bool closed1 = co_await closed_by_peer(socket, 5s, received);
        BOOST_TEST(closed1);
        BOOST_TEST(received == 40u);  // only the server's fixed-size hello
        co_await expect_still_serving(real, "after garbage");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(silent_client_is_dropped_after_the_handshake_timeout) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        auto socket = co_await dial(real.peer().ref());
        std::size_t received = 0;
        bool closed2 = co_await closed_by_peer(socket, 5s, received);
        BOOST_TEST(closed2);
        co_await expect_still_serving(real, "after silence");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(wrong_secret_is_refused_with_a_clear_error) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        auto socket = co_await dial(real.peer().ref());
        std::string message;
        try {
          co_await rp::detail::authenticate_client(socket, rp::detail::make_secret(), 5s,
                                                   "the worker", {});
        } catch (const rp::rpc_error& e) {
          message = e.what();
        }
        BOOST_TEST_MESSAGE(message);
        BOOST_TEST(message.find("refused our credentials") != std::string::npos);
        co_await expect_still_serving(real, "after wrong secret");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(oversized_frame_header_closes_only_that_connection) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        auto socket = co_await authenticated(real.peer().ref());
        // Claims 3 GiB: refused from the header, nothing allocated.
        std::string frame =
            header(3u << 30, static_cast<std::uint8_t>(rp::detail::frame_kind::open));
        co_await asio::async_write(socket, asio::buffer(frame), asio::use_awaitable);
        std::size_t received = 0;
        bool closed3 = co_await closed_by_peer(socket, 5s, received);
        BOOST_TEST(closed3);
        BOOST_TEST(received == 0u);
        co_await expect_still_serving(real, "after oversized");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(silent_peers_claiming_the_largest_frames_cost_the_worker_nothing) {
  rp::rpc_settings settings;  // max_message_size 100 MiB
  settings.handshake_timeout = 30s;
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        std::int64_t pid = co_await real.run(echo_worker::pid);
        std::size_t before = memory_kib(pid);
        std::uint32_t largest = static_cast<std::uint32_t>(rp::rpc_settings{}.max_message_size);
        std::vector<stream_socket> silent;
        for (int i = 0; i < 10; ++i) {
          silent.push_back(co_await authenticated(real.peer().ref()));
          std::string frame =
              header(largest, static_cast<std::uint8_t>(rp::detail::frame_kind::open));
          co_await asio::async_write(silent.back(), asio::buffer(frame), asio::use_awaitable);
        }
        // A round trip after those headers: the worker has read them by then.
        co_await expect_still_serving(real, "after silent peers");
        std::size_t after = memory_kib(pid);
        BOOST_TEST_MESSAGE("worker RSS " << before << " KiB -> " << after << " KiB");
        BOOST_TEST(after < before + 8 * 1024);  // a few MiB, sanitizer builds included
      },
      60s, settings);
}

BOOST_AUTO_TEST_CASE(unknown_frame_kind_and_garbage_payload_close_only_that_connection) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        auto unknown = co_await authenticated(real.peer().ref());
        std::string bad_kind = header(0, 200);
        co_await asio::async_write(unknown, asio::buffer(bad_kind), asio::use_awaitable);
        std::size_t received = 0;
        bool closed4 = co_await closed_by_peer(unknown, 5s, received);
        BOOST_TEST(closed4);

        auto garbled = co_await authenticated(real.peer().ref());
        std::string open = header(64, static_cast<std::uint8_t>(rp::detail::frame_kind::open)) +
                           std::string(64, '\xff');
        co_await asio::async_write(garbled, asio::buffer(open), asio::use_awaitable);
        bool closed5 = co_await closed_by_peer(garbled, 5s, received);
        BOOST_TEST(closed5);
        co_await expect_still_serving(real, "after garbage frames");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(truncated_frame_closes_only_that_connection) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        {
          auto socket = co_await authenticated(real.peer().ref());
          std::string partial =
              header(1000, static_cast<std::uint8_t>(rp::detail::frame_kind::open)) +
              std::string(10, 'a');
          co_await asio::async_write(socket, asio::buffer(partial), asio::use_awaitable);
        }  // closed mid-frame
        co_await expect_still_serving(real, "after truncated");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(
    oversized_query_and_response_fail_with_a_clear_error_and_the_connection_lives) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        auto query = co_await real.try_run(echo_worker::echo, std::string(2 * 1024 * 1024, 'q'));
        BOOST_REQUIRE(query.has_error());
        BOOST_TEST(query.error().message.find("exceeds max_message_size 1048576") !=
                   std::string::npos);
        auto response = co_await real.try_run(echo_worker::big, 2 * 1024 * 1024);
        BOOST_REQUIRE(response.has_error());
        BOOST_TEST(response.error().message.find("the response of") != std::string::npos);
        co_await expect_still_serving(real, "after oversized values");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(a_query_over_max_message_size_is_refused_before_it_is_encoded_whole) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto real = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options(), "r");
        std::ofstream("/proc/self/clear_refs") << "5";  // the peak starts again from here
        std::size_t before = memory_kib(::getpid(), "VmHWM");
        // 1 GiB of encoding from a value of 8 bytes; the limit is 1 MiB.
        auto refused = co_await real.try_run(echo_worker::count_kib, tests::repeated_kib{1 << 20});
        std::size_t peak = memory_kib(::getpid(), "VmHWM");
        BOOST_REQUIRE(refused.has_error());
        BOOST_TEST(refused.error().message.find("exceeds max_message_size 1048576") !=
                   std::string::npos);
        BOOST_TEST_MESSAGE("master peak " << before << " KiB -> " << peak << " KiB");
        BOOST_TEST(peak < before + 16 * 1024);
        auto fits = co_await real.run(echo_worker::count_kib, tests::repeated_kib{100});
        BOOST_TEST(fits == 100u);
        co_await expect_still_serving(real, "after an oversized encoding");
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_CASE(connecting_to_something_else_or_to_nothing_says_so) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        // Something that is not an rpc_parallel server: it greets like sshd.
        tcp::acceptor other(executor, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        auto port = other.local_endpoint().port();
        asio::co_spawn(
            executor,
            [&other]() -> asio::awaitable<void> {
              auto peer = co_await other.async_accept(asio::use_awaitable);
              std::string greeting =
                  "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n" + std::string(20, ' ');
              co_await asio::async_write(peer, asio::buffer(greeting), asio::use_awaitable);
              asio::steady_timer hold(peer.get_executor(), 5s);
              boost::system::error_code ignored;
              co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            },
            asio::detached);
        rp::worker<echo_worker> impostor(
            rp::worker_ref{"127.0.0.1", port, "0", "echo_worker", "impostor"});
        auto wrong = co_await rp::try_connect(impostor);
        BOOST_REQUIRE(wrong.has_error());
        BOOST_TEST(static_cast<int>(wrong.error().kind) ==
                   static_cast<int>(rp::error_kind::unimplemented));
        BOOST_TEST(wrong.error().message.find("does not speak rpc_parallel") != std::string::npos);

        other.close();  // now nothing listens there
        auto nothing = co_await rp::try_connect(impostor);
        BOOST_REQUIRE(nothing.has_error());
        BOOST_TEST(static_cast<int>(nothing.error().kind) ==
                   static_cast<int>(rp::error_kind::disconnected));
        BOOST_TEST(nothing.error().message.find("has the worker exited?") != std::string::npos);
      },
      60s, small_settings());
}

BOOST_AUTO_TEST_SUITE_END()
