// The receiving side of one connection: bytes become frames as they arrive, on whichever thread
// reads them.
#pragma once

#include "rpc_parallel/detail/wire.hpp"
#include "rpc_parallel/error.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
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

/// Normally only the user thread reads (through `transport::read`). While that thread is held
/// by user code, the guardian thread reads instead (`rescue`), so the peer never sees a closed
/// window and the connection's end is noticed. The one mutex makes the two readers take turns;
/// it is uncontended except at the edges of such a stall. What the guardian received is taken
/// by the user thread later; `wake`, set once before the guardian sees the reader, tells a
/// user-thread reader waiting for the socket that there is something to take.
///
/// Memory follows what arrives, not what a header claims: a large frame's buffer starts at what
/// is already received or waiting in the kernel and grows (doubling) as its bytes come, so a
/// frame costs at most 1.5x its size at peak and a silent peer costs no more than the 64 KiB
/// read buffer.
class frame_reader {
 public:
  enum class status { frame, empty, end };

  /// `wake` runs on the guardian's thread after a rescue received something: it must only post
  /// to the user thread.
  frame_reader(int fd, std::uint64_t max_message_size, std::string peer,
               std::function<void()> wake = {});
  frame_reader(const frame_reader&) = delete;
  frame_reader& operator=(const frame_reader&) = delete;

  /// The next frame, receiving what the socket has (without blocking) when none is complete.
  /// `end` at a clean end of stream, `empty` when the socket has nothing more yet. Throws
  /// `rpc_error`: `disconnected` when the connection broke (or ended inside a frame), `failed`
  /// on a frame that breaks the protocol (oversized, unknown kind or flags). Frames that
  /// arrived before an error are returned first.
  status take(frame& out);

  struct rescued {
    bool closed = false;    ///< Closed here: nothing else in this report means anything.
    bool ended = false;     ///< Closed by the peer, broken, or a protocol error.
    bool shutdown = false;  ///< A `shutdown` frame has arrived.
  };
  /// On the guardian's thread: receives what the socket holds (up to 16 MiB a call), then
  /// calls `wake` if anything came. The user thread sees all that is reported here when it
  /// reads.
  rescued rescue();

  /// Adds the socket to `epoll_fd` with `events` and `tag`, unless already closed (under the
  /// lock, so that a closed and reused descriptor number is never added). False if not added.
  bool add_to(int epoll_fd, std::uint32_t events, void* tag);

  /// No receive after this; the socket may then be closed and its number reused.
  void close() noexcept;
  bool is_closed() noexcept;

 private:
  enum class received { some, drained, ended };
  // Everything below is guarded by mutex_.
  received receive(std::size_t limit, bool stop_at_frame);
  void parse_buffered();
  void start_large(const frame_header& header, std::size_t have);
  void grow_large();
  void fail(error e);
  bool check_header(const frame_header& header);

  std::mutex mutex_;
  const int fd_;
  const std::uint64_t max_message_size_;
  const std::string peer_;
  const std::function<void()> wake_;
  bool closed_ = false;
  bool ended_ = false;  ///< The peer closed cleanly (EOF).
  bool shutdown_seen_ = false;
  std::uint64_t received_bytes_ = 0;
  std::optional<error> failure_;
  std::deque<frame> ready_;
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
};

}  // namespace rpc_parallel::detail
