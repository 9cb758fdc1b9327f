#include "rpc_parallel/detail/transport.hpp"

#include "rpc_parallel/detail/metrics.hpp"
#include "rpc_parallel/detail/socket_watch.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <netinet/tcp.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

namespace {
// Stream frames up to this payload size are packed together into one buffer; larger values are
// written from their own buffer (no copy) and fragmented.
constexpr std::size_t packed_frame_limit = 16 * 1024;
}  // namespace

asio::awaitable<void> back_off_after_accept_error(asio::any_io_executor executor) {
  asio::steady_timer timer(executor, std::chrono::milliseconds(100));
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

void configure_socket(stream_socket& socket, const rpc_settings& settings) {
  if (!is_tcp(socket)) return;
  int fd = socket.native_handle();
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  int interval =
      static_cast<int>(std::max<std::int64_t>(1, settings.heartbeat_interval.count() / 1000));
  int count = static_cast<int>(std::max<std::int64_t>(
      1, settings.heartbeat_timeout.count() /
             std::max<std::int64_t>(1, settings.heartbeat_interval.count())));
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

transport::transport(stream_socket socket, rpc_settings settings, std::string peer)
    : socket_(std::move(socket)),
      settings_(settings),
      peer_(std::move(peer)),
      flushed_(socket_.get_executor()),
      input_(socket_.native_handle(), settings_.max_message_size, peer_),
      watch_(std::make_shared<socket_watch>(socket_.native_handle())) {}

transport::~transport() { watch_->close(); }

asio::awaitable<std::optional<frame>> transport::read() {
  auto self = shared_from_this();  // the reader may be the last owner while it waits
  for (;;) {
    std::optional<frame> next;
    try {
      next = input_.next();
    } catch (const rpc_error&) {
      open_ = false;
      throw;
    }
    if (next) co_return next;
    boost::system::error_code ec;
    std::size_t n = co_await socket_.async_read_some(input_.space(),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (metrics::on()) metrics::of_this_process().received(n);
    if (ec) {
      open_ = false;
      std::string dead = watch_->dead_reason();
      if (ec == asio::error::eof && !input_.in_frame() && dead.empty()) co_return std::nullopt;
      throw rpc_error({error_kind::disconnected,
                       "connection to " + peer_ + " lost" +
                           (input_.in_frame() ? " in the middle of a frame: " : ": ") +
                           (dead.empty() ? ec.message() : dead)});
    }
    input_.received(n);
  }
}

void transport::send(frame_kind kind, std::uint64_t id, std::string_view payload) {
  std::string f = begin_frame();
  f.append(payload);
  finish_frame(f, kind, id);
  send(std::move(f));
}

void transport::send(std::string f) {
  std::size_t size = f.size() - frame_header_size;
  if (size > settings_.max_message_size || size > std::numeric_limits<std::uint32_t>::max())
    throw rpc_error({error_kind::failed,
                     "message of " + std::to_string(size) + " bytes to " + peer_ +
                         " exceeds max_message_size " + std::to_string(settings_.max_message_size) +
                         "; raise it with app::run's settings, --rpc-max-message-size or " +
                         std::string(rpc_settings_env_var)});
  if (!open_) throw rpc_error({error_kind::disconnected, "connection to " + peer_ + " is closed"});
  if (queued_.empty())
    queued_ = std::move(f);
  else
    queued_.append(f);
  if (!writing_ && batches_ == 0) start_write();
}

void transport::send_stream(stream_value value, frame_kind kind, std::uint64_t id) {
  if (!open_) throw rpc_error({error_kind::disconnected, "connection to " + peer_ + " is closed"});
  if (value.payload_size() > packed_frame_limit) {
    stream_queue_.push_back({std::move(value.bytes), false, kind, id, value.payload_at, 0});
  } else {
    std::string f;
    if (value.payload_at == frame_header_size) {
      f = std::move(value.bytes);
    } else {  // a small string taken over whole: copied behind a header, like an encoding
      f = begin_frame();
      f.append(std::string_view(value.bytes).substr(value.payload_at));
    }
    finish_frame(f, kind, id);
    if (stream_queue_.empty() || !stream_queue_.back().packed ||
        stream_queue_.back().bytes.size() >= packed_frame_limit)
      stream_queue_.push_back({std::move(f), true, kind, id, 0, 0});
    else
      stream_queue_.back().bytes.append(f);
  }
  if (!writing_) start_write();
}

void transport::start_write() {
  writing_ = true;
  in_flight_.swap(queued_);
  queued_.clear();
  in_flight_buffers_.clear();
  if (!in_flight_.empty()) in_flight_buffers_.push_back(asio::buffer(in_flight_));
  // Then at most one slice of the stream lane, in order; a large value yields one fragment.
  std::size_t budget = stream_slice;
  while (!stream_queue_.empty() && budget > 0) {
    stream_bytes& next = stream_queue_.front();
    if (next.packed) {
      budget -= std::min(budget, next.bytes.size());
      in_flight_stream_.push_back(std::move(next));
      stream_queue_.pop_front();
      in_flight_buffers_.push_back(asio::buffer(in_flight_stream_.back().bytes));
      continue;
    }
    std::size_t payload = next.bytes.size() - next.payload_at;
    std::size_t begin = next.sent;
    // The first fragment starts with the value's whole size, so the reader allocates it once.
    bool first = begin == 0;
    std::size_t prefix = first ? sizeof(std::uint64_t) : 0;
    std::size_t take = std::min(payload - begin, stream_fragment - prefix);
    bool more = begin + take < payload;
    if (first && !more) prefix = 0;  // a value under one fragment: a plain frame
    in_flight_headers_.emplace_back();
    char* header = in_flight_headers_.back().data();
    write_frame_header(header, static_cast<std::uint32_t>(take + prefix), next.kind,
                       more ? frame_flag_more : 0, next.id);
    std::uint64_t total = payload;
    std::memcpy(header + frame_header_size, &total, sizeof total);
    in_flight_buffers_.push_back(asio::buffer(header, frame_header_size + prefix));
    next.sent += take;
    budget -= std::min(budget, take + frame_header_size);
    // A value stays at the front (deque elements do not move) until its last fragment is
    // written; then it moves to the bytes in flight.
    stream_bytes* source = &next;
    if (!more) {
      in_flight_stream_.push_back(std::move(next));
      stream_queue_.pop_front();
      source = &in_flight_stream_.back();
    }
    in_flight_buffers_.push_back(
        asio::buffer(source->bytes.data() + source->payload_at + begin, take));
    if (more) break;
  }
  asio::async_write(socket_, in_flight_buffers_,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                      if (metrics::on()) metrics::of_this_process().sent(n);
                      self->writing_ = false;
                      self->in_flight_.clear();
                      self->in_flight_stream_.clear();
                      self->in_flight_headers_.clear();
                      self->in_flight_buffers_.clear();
                      if (ec) {
                        self->close();
                      } else if (!self->queued_.empty() || !self->stream_queue_.empty()) {
                        self->start_write();
                      }
                      self->flushed_.cancel();
                    });
}

asio::awaitable<void> transport::flush() {
  auto self = shared_from_this();
  while (open_ && (writing_ || !queued_.empty() || !stream_queue_.empty())) {
    flushed_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await flushed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void transport::close() noexcept {
  open_ = false;
  watch_->close();  // before the descriptor goes: the guardian must never touch a reused one
  boost::system::error_code ignored;
  socket_.shutdown(stream_socket::shutdown_both, ignored);
  socket_.close(ignored);
  flushed_.cancel();
}

}  // namespace rpc_parallel::detail
