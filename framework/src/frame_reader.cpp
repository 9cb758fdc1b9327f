#include "rpc_parallel/detail/frame_reader.hpp"

#include <sys/ioctl.h>
#include <algorithm>
#include <cstring>
#include <utility>

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

frame_reader::frame_reader(int fd, std::uint64_t max_message_size, std::string peer)
    : fd_(fd),
      max_message_size_(max_message_size),
      peer_(std::move(peer)),
      buffer_(read_buffer_size) {}

std::optional<frame> frame_reader::next() {
  if (completed_) return std::exchange(completed_, std::nullopt);
  if (auto f = parse_one()) return f;
  if (failure_) throw rpc_error(*failure_);
  return std::nullopt;
}

boost::asio::mutable_buffer frame_reader::space() {
  if (failure_) return {};
  if (large_) {
    if (large_->filled == large_->payload.size()) grow_large();
    return boost::asio::buffer(large_->payload.data() + large_->filled,
                               large_->payload.size() - large_->filled);
  }
  if (begin_ > 0 && buffer_.size() - end_ < 4096) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return boost::asio::buffer(buffer_.data() + end_, buffer_.size() - end_);
}

void frame_reader::received(std::size_t n) {
  if (!large_) {
    end_ += n;
    return;
  }
  large_->filled += n;
  if (large_->filled < large_->header.size) return;
  completed_.emplace(frame{static_cast<frame_kind>(large_->header.kind), large_->header.id,
                           std::move(large_->payload), large_->header.flags,
                           large_->header.function});
  large_.reset();
}

// One frame from the read buffer, when it holds a whole one (parsed lazily, one per call: no
// queue of frames between the socket and the reader). A frame larger than the buffer moves to
// its own payload instead.
std::optional<frame> frame_reader::parse_one() {
  if (failure_ || large_ || end_ - begin_ < frame_header_size) return std::nullopt;
  frame_header header = parse_frame_header(buffer_.data() + begin_);
  if (!check_header(header)) return std::nullopt;
  std::size_t have = end_ - begin_;
  std::size_t needed = frame_header_size + header.size;
  if (have < needed) {
    if (needed > buffer_.size()) start_large(header, have - frame_header_size);
    return std::nullopt;
  }
  const char* body = buffer_.data() + begin_ + frame_header_size;
  frame f{static_cast<frame_kind>(header.kind), header.id, std::string(body, header.size),
          header.flags, header.function};
  begin_ += needed;
  if (begin_ == end_) begin_ = end_ = 0;
  return f;
}

bool frame_reader::check_header(const frame_header& header) {
  if (header.size > max_message_size_) {
    failure_ = error{error_kind::failed,
                     "protocol error from " + peer_ + ": frame of " + std::to_string(header.size) +
                         " bytes exceeds max_message_size " + std::to_string(max_message_size_)};
    return false;
  }
  bool flags_ok =
      header.flags == 0 || (header.flags == frame_flag_more &&
                            header.kind == static_cast<std::uint8_t>(frame_kind::stream_item));
  if (header.kind == 0 || header.kind > max_frame_kind || !flags_ok) {
    failure_ = error{error_kind::failed, "protocol error from " + peer_ + ": unknown frame kind " +
                                             std::to_string(header.kind) + " or flags " +
                                             std::to_string(header.flags)};
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

}  // namespace rpc_parallel::detail
