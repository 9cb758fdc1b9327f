#include "rpc_parallel/detail/frame_reader.hpp"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rpc_parallel::detail {
namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;

// Bytes waiting in the kernel for this socket: they are proven to exist, so room may be made
// for them before they are read.
std::size_t waiting_in_kernel(int fd) {
  int waiting = 0;
  return ::ioctl(fd, FIONREAD, &waiting) == 0 && waiting > 0 ? static_cast<std::size_t>(waiting)
                                                             : 0;
}

// The size a large frame's payload buffer grows to, from one holding `current` received bytes:
// room for what is proven to exist (`proven`: received or waiting in the kernel), at least
// double, and never a step that would hold more than 1.5x the frame at once (old and new
// buffer both live while the bytes are copied): sizes stop at half the frame, then jump to it.
std::size_t next_size(std::size_t total, std::size_t current, std::size_t proven) {
  std::size_t next = std::max({current * 2, proven, read_buffer_size});
  if (next >= total) return total;
  std::size_t half = total - total / 2;
  if (next <= half) return next;
  return current >= half ? total : half;
}

}  // namespace

frame_reader::frame_reader(int fd, std::uint64_t max_message_size, std::string peer,
                           std::function<void()> wake)
    : fd_(fd),
      max_message_size_(max_message_size),
      peer_(std::move(peer)),
      wake_(std::move(wake)),
      buffer_(read_buffer_size) {}

frame_reader::status frame_reader::take(frame& out) {
  std::lock_guard lock(mutex_);
  if (ready_.empty() && !closed_ && !ended_ && !failure_) receive(SIZE_MAX, true);
  if (!ready_.empty()) {
    out = std::move(ready_.front());
    ready_.pop_front();
    return status::frame;
  }
  if (failure_) throw rpc_error(*failure_);
  if (ended_) {
    if (end_ > begin_ || large_)
      throw rpc_error({error_kind::disconnected,
                       "connection to " + peer_ + " lost in the middle of a frame: end of file"});
    return status::end;
  }
  if (closed_) throw rpc_error({error_kind::disconnected, "connection to " + peer_ + " is closed"});
  return status::empty;
}

frame_reader::rescued frame_reader::rescue() {
  rescued r;
  bool received_any = false;
  {
    std::lock_guard lock(mutex_);
    if (!closed_ && !ended_ && !failure_) {
      std::uint64_t before = received_bytes_;
      // Bounded: the guardian sweeps again at its next tick.
      receive(16 * 1024 * 1024, false);
      received_any = received_bytes_ != before || ended_ || failure_;
    }
    r = {closed_, ended_ || failure_.has_value(), shutdown_seen_};
  }
  if (received_any && !r.closed && wake_) wake_();
  return r;
}

bool frame_reader::add_to(int epoll_fd, std::uint32_t events, void* tag) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  epoll_event event{};
  event.events = events;
  event.data.ptr = tag;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd_, &event) == 0;
}

bool frame_reader::is_closed() noexcept {
  std::lock_guard lock(mutex_);
  return closed_;
}

void frame_reader::close() noexcept {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

frame_reader::received frame_reader::receive(std::size_t limit, bool stop_at_frame) {
  while (limit > 0 && !failure_) {
    char* into;
    std::size_t room;
    if (large_) {
      if (large_->filled == large_->payload.size()) grow_large();
      into = large_->payload.data() + large_->filled;
      room = large_->payload.size() - large_->filled;
    } else {
      if (begin_ > 0 && buffer_.size() - end_ < 4096) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      into = buffer_.data() + end_;
      room = buffer_.size() - end_;
    }
    room = std::min(room, limit);
    ssize_t n = ::recv(fd_, into, room, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return received::drained;
      fail({error_kind::disconnected,
            "connection to " + peer_ + " lost" +
                (end_ > begin_ || large_ ? " in the middle of a frame" : "") + ": " +
                std::strerror(errno)});
      return received::ended;
    }
    if (n == 0) {
      ended_ = true;
      return received::ended;
    }
    auto got = static_cast<std::size_t>(n);
    limit -= got;
    received_bytes_ += got;
    if (large_) {
      large_->filled += got;
      if (large_->filled == large_->header.size) {
        ready_.push_back({static_cast<frame_kind>(large_->header.kind), large_->header.id,
                          std::move(large_->payload), large_->header.flags,
                          large_->header.function});
        large_.reset();
      }
    } else {
      end_ += got;
      parse_buffered();
    }
    if (stop_at_frame && !ready_.empty()) return received::some;
    if (got < room) return received::drained;  // the socket had nothing more just then
  }
  return received::some;
}

void frame_reader::parse_buffered() {
  while (end_ - begin_ >= frame_header_size && !failure_) {
    frame_header header = parse_frame_header(buffer_.data() + begin_);
    if (!check_header(header)) return;
    std::size_t have = end_ - begin_;
    std::size_t needed = frame_header_size + header.size;
    if (have < needed) {
      if (needed > buffer_.size()) start_large(header, have - frame_header_size);
      break;
    }
    const char* body = buffer_.data() + begin_ + frame_header_size;
    ready_.push_back({static_cast<frame_kind>(header.kind), header.id,
                      std::string(body, header.size), header.flags, header.function});
    if (ready_.back().kind == frame_kind::shutdown) shutdown_seen_ = true;
    begin_ += needed;
  }
  if (begin_ == end_) begin_ = end_ = 0;
}

bool frame_reader::check_header(const frame_header& header) {
  if (header.size > max_message_size_) {
    fail({error_kind::failed, "protocol error from " + peer_ + ": frame of " +
                                  std::to_string(header.size) + " bytes exceeds max_message_size " +
                                  std::to_string(max_message_size_)});
    return false;
  }
  bool flags_ok =
      header.flags == 0 || (header.flags == frame_flag_more &&
                            header.kind == static_cast<std::uint8_t>(frame_kind::stream_item));
  if (header.kind == 0 || header.kind > max_frame_kind || !flags_ok) {
    fail({error_kind::failed, "protocol error from " + peer_ + ": unknown frame kind " +
                                  std::to_string(header.kind) + " or flags " +
                                  std::to_string(header.flags)});
    return false;
  }
  return true;
}

// The frame's bytes so far move from the read buffer into the frame's own payload, which the
// rest is then received into directly.
void frame_reader::start_large(const frame_header& header, std::size_t have) {
  std::size_t size = next_size(header.size, have, have + waiting_in_kernel(fd_));
  large_.emplace(large_frame{header, std::string(size, '\0'), have});
  std::memcpy(large_->payload.data(), buffer_.data() + begin_ + frame_header_size, have);
  begin_ = end_ = 0;
}

void frame_reader::grow_large() {
  std::size_t size =
      next_size(large_->header.size, large_->filled, large_->filled + waiting_in_kernel(fd_));
  // A new string of exactly this size: resize() and reserve() may round the capacity up.
  std::string grown(size, '\0');
  std::memcpy(grown.data(), large_->payload.data(), large_->filled);
  large_->payload = std::move(grown);
}

void frame_reader::fail(error e) {
  if (!failure_) failure_ = std::move(e);
}

}  // namespace rpc_parallel::detail
