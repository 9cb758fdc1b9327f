// The framed transport: two lanes, fragments of large stream values, size checks.
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/detail/frame_reader.hpp"

#include "support/test_app.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <cstring>

#include <algorithm>
#include <memory>
#include <optional>
#include <string_view>
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

/// A frame buffer (`begin_frame`) followed by `size` bytes of a-z, repeating.
std::string patterned_frame(std::size_t size) {
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
    std::string value = patterned_frame(size);
    std::string expected = value.substr(detail::frame_header_size);
    pair.writer->send_stream({std::move(value)}, detail::frame_kind::stream_item, 7);
    // Queued while the first fragment is being written: it goes out with the second write, so
    // it arrives before the value, which the reader hands out whole.
    pair.writer->send(detail::frame_kind::call, 9, "small");
    auto first = co_await pair.reader->read();
    BOOST_REQUIRE(first.has_value());
    BOOST_TEST((first->kind == detail::frame_kind::call));
    BOOST_TEST(first->payload == "small");
    auto whole = co_await pair.reader->read();
    BOOST_REQUIRE(whole.has_value());
    BOOST_TEST((whole->kind == detail::frame_kind::stream_item));
    BOOST_TEST(whole->id == 7u);
    BOOST_TEST(whole->flags == 0);
    BOOST_TEST(whole->payload.size() == size);
    BOOST_TEST((whole->payload == expected));
  });
}

BOOST_AUTO_TEST_CASE(strings_sent_without_header_room_arrive_like_frames) {
  tests::run([]() -> asio::awaitable<void> {
    auto pair = co_await connect_pair();
    // Small (copied behind a header and packed), one large frame, and fragments; between them,
    // values made as frame buffers, so both layouts share the lane.
    std::vector<std::size_t> sizes{5, 20000, 2 * detail::transport::stream_fragment + 3, 0, 70000};
    std::uint64_t id = 0;
    for (std::size_t size : sizes) {
      std::string bare = patterned_frame(size).substr(detail::frame_header_size);
      pair.writer->send_stream({std::move(bare), 0}, detail::frame_kind::stream_item, ++id);
      pair.writer->send_stream({patterned_frame(size)}, detail::frame_kind::stream_item, ++id);
    }
    id = 0;
    for (std::size_t size : sizes) {
      for (int twice = 0; twice < 2; ++twice) {
        auto f = co_await pair.reader->read();
        BOOST_REQUIRE(f.has_value());
        BOOST_TEST(f->id == ++id);
        BOOST_TEST(f->payload.size() == size);
        BOOST_TEST((f->payload == patterned_frame(size).substr(detail::frame_header_size)));
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(frames_of_every_size_class_arrive_whole_and_in_order) {
  tests::run([]() -> asio::awaitable<void> {
    auto pair = co_await connect_pair();
    // Around the 64 KiB read buffer, around half of a growing payload, and several MiB.
    std::vector<std::size_t> sizes{0,      1,      65519,  65520,   65521,  100000,
                                   131072, 200000, 999999, 4 << 20, 7777777};
    for (std::size_t size : sizes) {
      std::string payload = patterned_frame(size).substr(detail::frame_header_size);
      pair.writer->send(detail::frame_kind::call, size, payload);
    }
    for (std::size_t size : sizes) {
      auto f = co_await pair.reader->read();
      BOOST_REQUIRE(f.has_value());
      BOOST_TEST(f->id == size);
      BOOST_TEST((f->payload == patterned_frame(size).substr(detail::frame_header_size)));
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
      pair.writer->send_stream({std::move(frame)}, detail::frame_kind::stream_item, 3);
    }
    pair.writer->send_stream({detail::begin_frame()}, detail::frame_kind::stream_end, 3);
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

namespace {

/// A stream_item frame as a sender writes it; a first fragment starts with `announced`.
std::string fragment(std::uint64_t id, std::string_view bytes, bool more,
                     std::optional<std::uint64_t> announced) {
  std::string frame = detail::begin_frame();
  if (announced) frame.append(reinterpret_cast<const char*>(&*announced), sizeof *announced);
  frame.append(bytes);
  detail::write_frame_header(
      frame.data(), static_cast<std::uint32_t>(frame.size() - detail::frame_header_size),
      detail::frame_kind::stream_item, more ? detail::frame_flag_more : 0, id);
  return frame;
}

/// Feeds `bytes` to a reader `piece` bytes at a time (as short reads would), taking frames.
std::vector<detail::frame> feed(detail::frame_reader& reader, std::string_view bytes,
                                std::size_t piece) {
  std::vector<detail::frame> frames;
  while (!bytes.empty()) {
    auto space = reader.space();
    std::size_t n = std::min({piece, space.size(), bytes.size()});
    std::memcpy(space.data(), bytes.data(), n);
    reader.received(n);
    bytes.remove_prefix(n);
    while (auto f = reader.next()) frames.push_back(std::move(*f));
  }
  return frames;
}

/// The protocol error the reader reports for `bytes`, or "" if there is none.
std::string protocol_error_of(std::string_view bytes, std::uint64_t max_message_size = 1 << 20) {
  detail::frame_reader reader(-1, max_message_size, "peer");
  try {
    (void)feed(reader, bytes, bytes.size());
  } catch (const rpc_parallel::rpc_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_fragmented_value_comes_out_whole_however_its_bytes_arrive) {
  std::string a(100'000, 'a'), b(150'000, 'b'), c(3, 'c');
  std::string bytes = fragment(4, a, true, a.size() + b.size() + c.size());
  // A small frame between two fragments, as the priority lane sends it.
  std::string call = detail::begin_frame() + "ping";
  detail::write_frame_header(call.data(), 4, detail::frame_kind::call, 0, 11);
  bytes += call + fragment(4, b, true, std::nullopt) + fragment(4, c, false, std::nullopt);
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, bytes.size()}) {
    detail::frame_reader reader(-1, 1 << 20, "peer");
    auto frames = feed(reader, bytes, piece);
    BOOST_TEST_REQUIRE(frames.size() == 2u, "piece " << piece);
    BOOST_TEST((frames[0].kind == detail::frame_kind::call));
    BOOST_TEST(frames[0].payload == "ping");
    BOOST_TEST((frames[1].kind == detail::frame_kind::stream_item));
    BOOST_TEST(frames[1].id == 4u);
    BOOST_TEST((frames[1].payload == a + b + c), "piece " << piece);
    BOOST_TEST(!reader.in_frame());
  }
}

BOOST_AUTO_TEST_CASE(fragments_that_break_their_announcement_are_protocol_errors) {
  std::string over = protocol_error_of(fragment(4, "x", true, 2u << 20));
  BOOST_TEST(over.find("stream 4 announced a value of 2097152 bytes, over max_message_size") !=
                 std::string::npos,
             over);
  std::string interleaved =
      protocol_error_of(fragment(4, "x", true, 10) + fragment(5, "y", false, std::nullopt));
  BOOST_TEST(interleaved.find("stream 5 sent a value while stream 4's was still arriving") !=
                 std::string::npos,
             interleaved);
  std::string past =
      protocol_error_of(fragment(4, "xx", true, 3) + fragment(4, "yy", false, std::nullopt));
  BOOST_TEST(past.find("pass the 3 bytes it announced") != std::string::npos, past);
  std::string short_value =
      protocol_error_of(fragment(4, "xx", true, 3) + fragment(4, "", false, std::nullopt));
  BOOST_TEST(short_value.find("ended at 2 of the 3 bytes it announced") != std::string::npos,
             short_value);
  std::string no_size = protocol_error_of(fragment(4, "abc", true, std::nullopt));
  BOOST_TEST(no_size.find("first fragment without its size") != std::string::npos, no_size);
}

BOOST_AUTO_TEST_SUITE_END()
