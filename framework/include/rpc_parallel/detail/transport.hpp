// One authenticated TCP connection carrying frames: coalesced writes, size-checked reads.
#pragma once

#include "rpc_parallel/detail/wire.hpp"
#include "rpc_parallel/rpc_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

struct frame {
  frame_kind kind{};
  std::uint64_t id = 0;
  std::string payload;
};

/// Waits 100 ms: after a failed accept (out of descriptors), retrying at once would spin.
boost::asio::awaitable<void> back_off_after_accept_error(boost::asio::any_io_executor executor);

/// Applies the settings' heartbeat (TCP keepalive and user timeout) and TCP_NODELAY.
void configure_socket(boost::asio::ip::tcp::socket& socket, const rpc_settings& settings);

class transport : public std::enable_shared_from_this<transport> {
 public:
  transport(boost::asio::ip::tcp::socket socket, rpc_settings settings, std::string peer);

  /// The next frame, or nullopt at a clean end of stream. Throws `rpc_error`: `disconnected`
  /// when the connection breaks, `failed` on a frame that breaks the protocol (oversized,
  /// unknown kind, truncated). The size is checked before any allocation.
  boost::asio::awaitable<std::optional<frame>> read();

  /// Queues a frame made by `begin_frame`/`finish_frame`. Frames queued while a write is in
  /// flight leave together in one write. Throws `rpc_error` (failed) if the payload exceeds
  /// `max_message_size`; the connection stays usable.
  void send(std::string frame);
  void send(frame_kind kind, std::uint64_t id, std::string_view payload);

  /// Waits until every queued frame has been written (or the connection failed).
  boost::asio::awaitable<void> flush();

  void close() noexcept;
  bool is_open() const noexcept { return open_; }
  const std::string& peer() const noexcept { return peer_; }
  const rpc_settings& settings() const noexcept { return settings_; }
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

 private:
  void start_write();

  boost::asio::ip::tcp::socket socket_;
  rpc_settings settings_;
  std::string peer_;
  bool open_ = true;
  bool writing_ = false;
  std::string queued_;
  std::string in_flight_;
  boost::asio::steady_timer flushed_;  // cancelled whenever a write completes
  std::vector<char> read_buffer_;
  std::size_t read_begin_ = 0;
  std::size_t read_end_ = 0;
};

}  // namespace rpc_parallel::detail
