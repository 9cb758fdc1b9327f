// Typed stream ends: what a pipe's caller reads and what its implementation writes (and the
// reverse for reverse pipes). Every stream is flow-controlled by `rpc_settings::stream_window`.
#pragma once

#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/stream_channel.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>

namespace rpc_parallel {

/// Names a stream on its connection, for `connection::abort`. Rpc_parallel's `Direct_pipe.Id`.
struct stream_id {
  std::uint64_t value = 0;
  bool operator==(const stream_id&) const = default;
};

/// The reading end of a stream of `T`. Move-only; dropping it stops the writer (as `close`).
/// Belongs to the executor of the connection it came from.
template <class T>
class stream_reader {
 public:
  explicit stream_reader(std::shared_ptr<detail::inbound_stream> s) : stream_(std::move(s)) {}
  stream_reader(stream_reader&&) noexcept = default;
  stream_reader& operator=(stream_reader&&) noexcept = default;

  /// The next value, or nullopt once the stream has ended (then see `closed_by`). Throws
  /// `rpc_error` when it ended with an error: the writer's exception (`failed`) or
  /// `disconnected` when the connection was lost. Waiting here is what slows the writer down.
  boost::asio::awaitable<std::optional<T>> next() {
    auto s = stream_;
    std::optional<std::string> bytes = co_await s->next();
    if (!bytes) co_return std::nullopt;
    co_return detail::decode_owned<T>(std::move(*bytes), "stream value");
  }

  /// Ends the stream here: values not yet read are dropped and the writer sees its stream close.
  void close() noexcept { stream_->close(); }
  stream_closed_by closed_by() const noexcept { return stream_->closed_by(); }
  stream_id id() const noexcept { return {stream_->id()}; }

 private:
  std::shared_ptr<detail::inbound_stream> stream_;
};

/// The writing end of a stream of `T`. Copyable: the stream closes normally when the last copy
/// goes, so a writer may be kept by a background task, a timer or a table. Rpc_parallel's
/// `Direct_stream_writer`.
template <class T>
class stream_writer {
 public:
  explicit stream_writer(std::shared_ptr<detail::outbound_stream> s) : stream_(std::move(s)) {}

  /// Sends `value`, waiting while the reader's window is full. False when the stream is closed
  /// (the reader closed it, or the connection is gone): stop producing. Throws `rpc_error`
  /// (failed) for a value over max_message_size; the stream stays open.
  [[nodiscard]] boost::asio::awaitable<bool> write(const T& value) {
    // Encoded now, so the awaitable does not refer to `value`.
    bool queued = write_without_pushback(value);
    return wait_sent(stream_, queued);
  }

  /// Queues `value` without waiting. Memory stays bounded only if the producer also awaits
  /// `flushed()` now and then. False when the stream is closed.
  [[nodiscard]] bool write_without_pushback(const T& value) {
    std::string frame = detail::begin_frame();
    detail::encode(value, frame);
    return stream_->write({std::move(frame)});
  }

  /// `write` of a string taken over: one of more than 16 KiB is sent from its own buffer, never
  /// copied.
  [[nodiscard]] boost::asio::awaitable<bool> write(T&& value)
    requires detail::is_bytes_v<T>
  {
    bool queued = write_without_pushback(std::move(value));
    return wait_sent(stream_, queued);
  }
  /// `write_without_pushback` of a string taken over, sent from its own buffer.
  [[nodiscard]] bool write_without_pushback(T&& value)
    requires detail::is_bytes_v<T>
  {
    return stream_->write({std::move(value), 0});
  }

  /// Returns once every value written so far has gone to the connection (or the stream closed).
  boost::asio::awaitable<void> flushed() { return stream_->flushed(); }
  /// Ends the stream normally after the values already written.
  void close() noexcept { stream_->close(); }
  /// Ends the stream with `e`, which the reader's `next` throws after the values already written.
  void close_with_error(rpc_parallel::error e) noexcept { stream_->close(std::move(e)); }
  bool is_closed() const noexcept { return stream_->is_closed(); }
  /// Bytes written but not yet sent: they wait for the reader's window.
  std::uint64_t queued_bytes() const noexcept { return stream_->queued_bytes(); }
  /// Returns once the stream is closed, by this side or the reader's.
  boost::asio::awaitable<void> closed() { return stream_->closed(); }

 private:
  static boost::asio::awaitable<bool> wait_sent(std::shared_ptr<detail::outbound_stream> s,
                                                bool queued) {
    if (!queued) co_return false;
    if (s->queued_bytes() > 0) co_await s->flushed();
    co_return !s->is_closed();
  }

  std::shared_ptr<detail::outbound_stream> stream_;
};

/// What a state RPC's caller gets: the state when it subscribed, then its updates.
template <class State, class Update>
struct state_stream {
  State state;
  stream_reader<Update> updates;
};

}  // namespace rpc_parallel
