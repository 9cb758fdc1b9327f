// The untyped ends of a stream on one connection and the table that routes stream frames.
//
// Flow control is by credit, counted in frame bytes (header included): the reader grants
// `stream_window` bytes when the stream opens and grants again as its user consumes values; the
// writer sends while it holds credit (one value may overshoot it) and queues the rest. So a
// stream holds at most one window plus one value in memory on each side, however slow its reader.
#pragma once

#include "rpc_parallel/detail/trace.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/detail/wire.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rpc_parallel {

/// Who ended a stream, as its reader sees it.
enum class stream_closed_by : std::uint8_t {
  nobody,       ///< Still open.
  remote_side,  ///< The writer closed it (also after `connection::abort`).
  local_side,   ///< This reader closed it.
};

/// "open", "by remote side", "by local side".
std::string_view to_string(stream_closed_by who) noexcept;

}  // namespace rpc_parallel

namespace rpc_parallel::detail {

class transport;
struct frame;

/// The stream ends alive in this process that still hold state: reading ends, and writing ends
/// that have not finished (for_testing::open_stream_ends).
std::int64_t open_stream_ends() noexcept;

/// The reading end: values queue here until the user takes them.
class inbound_stream : public std::enable_shared_from_this<inbound_stream> {
 public:
  inbound_stream(std::shared_ptr<transport> t, std::uint64_t id);
  ~inbound_stream();  // an unfinished stream asks its writer to stop
  inbound_stream(const inbound_stream&) = delete;
  inbound_stream& operator=(const inbound_stream&) = delete;

  /// Grants the writer its first window; call once, after the stream is known to the writer.
  void grant_window();
  /// The next encoded value, or nullopt at the end. Throws `rpc_error` when the stream ended
  /// with an error (the writer's, or `disconnected`).
  boost::asio::awaitable<std::optional<std::string>> next();
  /// Ends the stream here: queued values are dropped and the writer is told to stop.
  void close() noexcept;
  /// Asks the writer to stop; values already sent still arrive, then its end.
  void request_abort() noexcept;
  /// At `deadline`, unless it ended before: queued values are dropped, the writer is told to
  /// stop, and the reader fails with `failure`.
  void expire_at(std::chrono::steady_clock::time_point deadline, rpc_parallel::error failure);

  bool ended() const noexcept {
    return closed_by_ != stream_closed_by::nobody || failure_.has_value();
  }
  /// With tracing on, its lifetime is a span named after the stream function `name`.
  void trace_as(std::string name) { trace_.open(std::move(name)); }
  stream_closed_by closed_by() const noexcept { return closed_by_; }
  std::uint64_t id() const noexcept { return id_; }

  // Called by the stream table.
  /// A whole value (the frame reader gathers a fragmented one). Throws `rpc_error` (failed)
  /// when the writer overran its credit.
  void on_item(std::string payload);
  void on_end(std::optional<rpc_parallel::error> failure);
  void on_disconnect(const std::string& why);

 private:
  void send_control(frame_kind kind, std::uint64_t value) noexcept;

  std::shared_ptr<transport> transport_;
  std::uint64_t id_;
  std::deque<std::string> items_;
  std::int64_t credit_outstanding_ = 0;  // granted minus received; below -(one value) is abuse
  std::uint64_t consumed_unreported_ = 0;
  stream_closed_by closed_by_ = stream_closed_by::nobody;
  std::optional<rpc_parallel::error> failure_;
  bool abort_sent_ = false;
  wakeup changed_;
  std::optional<boost::asio::steady_timer> deadline_;
  stream_span trace_;
};

/// The writing end: sends while it holds credit, queues beyond it.
class outbound_stream {
 public:
  /// A `held` stream queues every value until `release` (a direct pipe's writes made before its
  /// implementation returned go out after the call's reply).
  outbound_stream(std::shared_ptr<transport> t, std::uint64_t id, bool held);
  outbound_stream(const outbound_stream&) = delete;
  outbound_stream& operator=(const outbound_stream&) = delete;
  ~outbound_stream();

  /// Queues a value; false when the stream is closed. Throws `rpc_error` (failed) when the
  /// value exceeds max_message_size; the stream stays open.
  bool write(stream_value value);
  /// Returns when every value written so far went to the connection, or the stream closed.
  boost::asio::awaitable<void> flushed();
  /// Returns when the stream is closed, by either side.
  boost::asio::awaitable<void> closed();
  /// Ends the stream after the queued values: normally, or with `failure` for the reader.
  void close(std::optional<rpc_parallel::error> failure = std::nullopt) noexcept;
  /// Ends the stream at once: queued values are dropped and the reader fails with `failure`.
  void fail_now(rpc_parallel::error failure) noexcept;
  /// Starts sending a held stream.
  void release() noexcept;
  /// Closes without telling the reader (the call that opened the stream failed).
  void discard() noexcept;

  bool is_closed() const noexcept { return closing_ || closed_; }
  /// With tracing on, its lifetime is a span named after the stream function `name`.
  void trace_as(std::string name) { trace_.open(std::move(name)); }
  /// Nothing more will be sent: the end went out, or the connection is gone.
  bool finished() const noexcept { return closed_; }
  std::uint64_t queued_bytes() const noexcept { return queued_bytes_; }

  // Called by the stream table.
  void on_credit(std::uint64_t bytes) noexcept;
  void on_abort() noexcept;
  void on_disconnect() noexcept;

 private:
  void pump() noexcept;
  void finish() noexcept;
  void mark_closed() noexcept;  // nothing more will be sent

  std::shared_ptr<transport> transport_;
  std::uint64_t id_;
  bool held_;
  std::int64_t credit_ = 0;
  std::deque<stream_value> queue_;
  std::uint64_t queued_bytes_ = 0;
  bool closing_ = false;  // close() called; stream_end follows the queue
  bool closed_ = false;   // nothing more will be sent
  std::optional<rpc_parallel::error> failure_;
  wakeup changed_;
  stream_span trace_;
};

/// A handle for users that closes the stream when its last copy goes; the stream itself lives
/// on in the table until its queue has drained.
std::shared_ptr<outbound_stream> writer_handle(std::shared_ptr<outbound_stream> s);

/// The streams of one connection, by id, in each direction. A reading end lives as long as its
/// reader's handle; a writing end until it has sent its end (or the connection is gone).
class stream_table {
 public:
  std::shared_ptr<inbound_stream> open_inbound(std::shared_ptr<transport> t, std::uint64_t id);
  std::shared_ptr<outbound_stream> open_outbound(std::shared_ptr<transport> t, std::uint64_t id,
                                                 bool held);
  std::shared_ptr<inbound_stream> find_inbound(std::uint64_t id) const;
  /// The writing end of `id` while it has not finished, or null.
  std::shared_ptr<outbound_stream> find_outbound(std::uint64_t id) const;
  /// Delivers a stream frame; false for other kinds. Throws `rpc_error` on a protocol violation.
  bool route(frame& f);
  /// Ends every stream: readers fail with `disconnected`, writers close.
  void disconnect(const std::string& why) noexcept;

 private:
  void sweep();

  std::unordered_map<std::uint64_t, std::weak_ptr<inbound_stream>> inbound_;
  std::unordered_map<std::uint64_t, std::shared_ptr<outbound_stream>> outbound_;
  std::size_t sweep_at_ = 64;
};

}  // namespace rpc_parallel::detail
