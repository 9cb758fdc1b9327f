// One authenticated connection (TCP, or a Unix-domain socket on one host) carrying frames:
// coalesced writes, size-checked reads.
#pragma once

#include "rpc_parallel/detail/frame_reader.hpp"
#include "rpc_parallel/detail/same_host.hpp"
#include "rpc_parallel/detail/wire.hpp"
#include "rpc_parallel/rpc_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

class socket_watch;

/// Waits 100 ms: after a failed accept (out of descriptors), retrying at once would spin.
boost::asio::awaitable<void> back_off_after_accept_error(boost::asio::any_io_executor executor);

/// Applies the settings' heartbeat (TCP keepalive, which the kernel answers) and TCP_NODELAY.
/// No TCP_USER_TIMEOUT: it would end a connection whose peer only stops reading (a closed
/// window); the guardian declares a silent peer dead instead (guardian.hpp). A Unix-domain
/// socket needs none of this: its peer is on this host, and its death closes the socket.
void configure_socket(stream_socket& socket, const rpc_settings& settings);

/// Frames leave in two lanes, each in order. Calls, replies and control frames take the
/// priority lane, all of which goes out with every write. Stream values and ends take the stream
/// lane: at most `stream_slice` bytes of it per write, and a value over `stream_fragment` bytes
/// in fragments (the first starting with the value's u64 size). So a large value delays a small
/// call by at most one slice, not the whole value.
class transport : public std::enable_shared_from_this<transport> {
 public:
  static constexpr std::size_t stream_fragment = 1024 * 1024;
  static constexpr std::size_t stream_slice = 1024 * 1024;

  transport(stream_socket socket, rpc_settings settings, std::string peer);
  /// Ends the guardian's watch first, so that it never touches the descriptor's reuse.
  ~transport();

  /// The next frame, or nullopt at a clean end of stream. Throws `rpc_error`: `disconnected`
  /// when the connection breaks, `failed` on a frame that breaks the protocol (oversized,
  /// unknown kind, truncated). The size is checked before any allocation. One reader at a time.
  boost::asio::awaitable<std::optional<frame>> read();
  /// This connection as the guardian watches it (guardian.hpp).
  const std::shared_ptr<socket_watch>& watch() const noexcept { return watch_; }

  /// Frames sent while one lives leave together, in one write, once it ends (or with the write
  /// in flight then): a call and the deadline frame before it cost one syscall, not two.
  class batch {
   public:
    explicit batch(transport& t) noexcept : t_(t) { ++t_.batches_; }
    ~batch() {
      if (--t_.batches_ == 0 && !t_.writing_ && t_.open_ && !t_.queued_.empty()) t_.start_write();
    }
    batch(const batch&) = delete;
    batch& operator=(const batch&) = delete;

   private:
    transport& t_;
  };

  /// Queues a frame made by `begin_frame`/`finish_frame`. Frames queued while a write is in
  /// flight leave together in one write. Throws `rpc_error` (failed) if the payload exceeds
  /// `max_message_size`; the connection stays usable.
  void send(std::string frame);
  void send(frame_kind kind, std::uint64_t id, std::string_view payload);
  /// Queues a stream value on the stream lane (its header is written here). Throws `rpc_error`
  /// (disconnected) when the connection is closed.
  void send_stream(stream_value value, frame_kind kind, std::uint64_t id);

  /// Waits until every queued frame has been written (or the connection failed).
  boost::asio::awaitable<void> flush();

  void close() noexcept;
  bool is_open() const noexcept { return open_; }
  const std::string& peer() const noexcept { return peer_; }
  const rpc_settings& settings() const noexcept { return settings_; }
  stream_socket& socket() noexcept { return socket_; }

 private:
  void start_write();

  /// Stream-lane bytes: finished small frames packed together, or one large value that leaves
  /// in fragments, each behind a header of its own (so only its payload is sent from `bytes`).
  struct stream_bytes {
    std::string bytes;
    bool packed = true;
    frame_kind kind{};
    std::uint64_t id = 0;
    std::size_t payload_at = 0;  ///< Where a large value's payload starts in `bytes`.
    std::size_t sent = 0;        ///< Payload bytes of a large value already handed to a write.
  };

  stream_socket socket_;
  rpc_settings settings_;
  std::string peer_;
  bool open_ = true;
  bool writing_ = false;
  int batches_ = 0;  ///< Live `batch`es: no write starts until the last ends.
  std::string queued_;
  std::deque<stream_bytes> stream_queue_;
  // What the current write points into; kept alive until it completes.
  std::string in_flight_;
  std::deque<stream_bytes> in_flight_stream_;
  std::deque<std::array<char, frame_header_size + sizeof(std::uint64_t)>> in_flight_headers_;
  std::vector<boost::asio::const_buffer> in_flight_buffers_;
  boost::asio::steady_timer flushed_;  // cancelled whenever a write completes
  frame_reader input_;
  std::shared_ptr<socket_watch> watch_;
};

}  // namespace rpc_parallel::detail
