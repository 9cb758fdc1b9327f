// The framed transport: two lanes, fragments of large stream values, size checks.
#include "rpc_parallel/detail/transport.hpp"

#include "support/test_app.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <cstring>

#include <memory>
#include <vector>

namespace asio = boost::asio;
namespace detail = rpc_parallel::detail;
using asio::ip::tcp;

namespace {

/// Two transports joined by a loopback TCP connection.
struct transport_pair {
  std::shared_ptr<detail::transport> writer;
  std::shared_ptr<detail::transport> reader;
};

asio::awaitable<transport_pair> connect_pair() {
  auto executor = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(executor, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(executor);
  co_await client.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
  tcp::socket server = co_await acceptor.async_accept(asio::use_awaitable);
  rpc_parallel::rpc_settings settings;
  co_return transport_pair{
      std::make_shared<detail::transport>(std::move(client), settings, "writer"),
      std::make_shared<detail::transport>(std::move(server), settings, "reader")};
}

std::string stream_value(std::size_t size) {
  std::string frame = detail::begin_frame();
  for (std::size_t i = 0; i < size; ++i) frame.push_back(static_cast<char>('a' + i % 26));
  return frame;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_suite)

BOOST_AUTO_TEST_CASE(a_large_stream_value_leaves_in_fragments_that_small_frames_overtake) {
  tests::run([]() -> asio::awaitable<void> {
    auto pair = co_await connect_pair();
    const std::size_t size = 5 * detail::transport::stream_fragment - 100;
    std::string value = stream_value(size);
    std::string expected = value.substr(detail::frame_header_size);
    pair.writer->send_stream(std::move(value), detail::frame_kind::stream_item, 7);
    // Queued while the first fragment is being written: it goes out with the second write.
    pair.writer->send(detail::frame_kind::call, 9, "small");
    std::string gathered;
    int fragments = 0, small_after = -1;
    for (;;) {
      auto f = co_await pair.reader->read();
      BOOST_REQUIRE(f.has_value());
      if (f->kind == detail::frame_kind::call) {
        BOOST_TEST(f->payload == "small");
        small_after = fragments;
        continue;
      }
      BOOST_TEST(f->id == 7u);
      BOOST_TEST(f->payload.size() <= detail::transport::stream_fragment);
      if (fragments++ == 0) {
        // The first fragment starts with the whole value's size.
        std::uint64_t total = 0;
        std::memcpy(&total, f->payload.data(), sizeof total);
        BOOST_TEST(total == size);
        f->payload.erase(0, sizeof total);
      }
      gathered += f->payload;
      if ((f->flags & detail::frame_flag_more) == 0) break;
    }
    BOOST_TEST(fragments == 5);
    BOOST_TEST(small_after == 1);  // behind one fragment, not the whole value
    BOOST_TEST((gathered == expected));
  });
}

BOOST_AUTO_TEST_CASE(frames_of_every_size_class_arrive_whole_and_in_order) {
  tests::run([]() -> asio::awaitable<void> {
    auto pair = co_await connect_pair();
    // Around the 64 KiB read buffer, around half of a growing payload, and several MiB.
    std::vector<std::size_t> sizes{0,      1,      65519,  65520,   65521,  100000,
                                   131072, 200000, 999999, 4 << 20, 7777777};
    for (std::size_t size : sizes) {
      std::string payload = stream_value(size).substr(detail::frame_header_size);
      pair.writer->send(detail::frame_kind::call, size, payload);
    }
    for (std::size_t size : sizes) {
      auto f = co_await pair.reader->read();
      BOOST_REQUIRE(f.has_value());
      BOOST_TEST(f->id == size);
      BOOST_TEST((f->payload == stream_value(size).substr(detail::frame_header_size)));
    }
  });
}

BOOST_AUTO_TEST_CASE(small_stream_frames_keep_their_order_across_writes) {
  tests::run([]() -> asio::awaitable<void> {
    auto pair = co_await connect_pair();
    const int count = 20000;
    for (int i = 0; i < count; ++i) {
      std::string frame = detail::begin_frame();
      frame.append(reinterpret_cast<const char*>(&i), sizeof i);
      pair.writer->send_stream(std::move(frame), detail::frame_kind::stream_item, 3);
    }
    pair.writer->send_stream(detail::begin_frame(), detail::frame_kind::stream_end, 3);
    bool in_order = true;
    for (int i = 0; i < count; ++i) {
      auto f = co_await pair.reader->read();
      int value = -1;
      if (f && f->payload.size() == sizeof value)
        std::memcpy(&value, f->payload.data(), sizeof value);
      in_order = in_order && value == i;
    }
    auto end = co_await pair.reader->read();
    BOOST_TEST(in_order);
    BOOST_REQUIRE(end.has_value());
    BOOST_TEST((end->kind == detail::frame_kind::stream_end));
  });
}

BOOST_AUTO_TEST_CASE(the_more_flag_on_anything_but_a_stream_value_is_a_protocol_error) {
  tests::run([]() -> asio::awaitable<void> {
    auto pair = co_await connect_pair();
    std::string frame = detail::begin_frame();
    detail::write_frame_header(frame.data(), 0, detail::frame_kind::call, detail::frame_flag_more,
                               1);
    pair.writer->send(std::move(frame));
    std::string error;
    try {
      (void)co_await pair.reader->read();
    } catch (const rpc_parallel::rpc_error& e) {
      error = e.what();
    }
    BOOST_TEST(error.find("protocol error from reader") != std::string::npos);
  });
}

BOOST_AUTO_TEST_SUITE_END()
