// The receiving side of one connection: bytes become frames as they arrive.
#pragma once

#include "rpc_parallel/detail/wire.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/buffer.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

struct frame {
  frame_kind kind{};
  std::uint64_t id = 0;
  std::string payload;
  std::uint8_t flags = 0;
  std::uint16_t function = 0;  ///< Of a call, one_way or stream_call.
};

/// The transport receives into `space()` and reports with `received`; `next` hands out whole
/// frames. Memory follows what arrives, not what a header claims: a large frame's buffer starts
/// at what is already received or waiting in the kernel and grows (doubling) as its bytes come,
/// so a frame costs at most 1.5x its size at peak, and a silent peer no more than the 64 KiB read
/// buffer. A stream value sent in fragments (`frame_flag_more`) is handed out as one
/// `stream_item` frame: each fragment is received straight into the value's buffer, reserved at
/// the size the first one announces and filled only as bytes arrive (no gathering copy).
/// Belongs to the transport's executor, like the transport.
class frame_reader {
 public:
  /// `fd` is only asked how many bytes wait in the kernel (FIONREAD).
  frame_reader(int fd, std::uint64_t max_message_size, std::string peer);

  /// The next frame received whole, if any. Throws `rpc_error` (failed) once the frames before
  /// one that breaks the protocol (oversized, unknown kind or flags) have been taken.
  std::optional<frame> next();
  /// Where the next bytes from the socket go; never empty while no protocol error is pending.
  boost::asio::mutable_buffer space();
  /// `n` bytes were received into the last `space()`.
  void received(std::size_t n);
  /// Whether a frame is partly received: an end of stream now would cut it.
  bool in_frame() const noexcept {
    return end_ > begin_ || large_.has_value() || assembly_.has_value();
  }

 private:
  std::optional<frame> parse_one();
  std::optional<frame> parse_whole(const frame_header& header);
  bool check_header(const frame_header& header);
  void start_large(const frame_header& header, std::size_t have);
  void grow_large();
  void start_fragment(const frame_header& header);
  void take_fragment_bytes(std::size_t n);
  void fail(std::string what);

  const int fd_;
  const std::uint64_t max_message_size_;
  const std::string peer_;
  std::optional<error> failure_;
  std::optional<frame> completed_;  ///< A large frame received whole, not yet taken.
  // Small frames and headers: [begin_, end_) of buffer_ is received but not yet parsed.
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  // A frame too large for buffer_, received straight into its payload: `filled` bytes so far.
  struct large_frame {
    frame_header header;
    std::string payload;
    std::size_t filled = 0;
  };
  std::optional<large_frame> large_;
  // A fragmented stream value: `value` holds what has arrived, inside a capacity of `total`.
  // `left` bytes of the current fragment are still to come, straight into `value`, whose last
  // `pending` bytes are room made for a read that has not yet filled them.
  struct assembly {
    frame_header fragment;  ///< The one being received: its flags say if it is the last.
    std::uint64_t total = 0;
    std::string value;
    std::size_t left = 0;
    std::size_t pending = 0;
  };
  std::optional<assembly> assembly_;
};

}  // namespace rpc_parallel::detail
