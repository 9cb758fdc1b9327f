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
  if (assembly_ && assembly_->left > 0) {
    // Room for what is proven to be on its way, inside the capacity reserved for the value.
    std::string& value = assembly_->value;
    if (assembly_->pending == 0) {
      assembly_->pending =
          std::min(assembly_->left, std::max(read_buffer_size, waiting_in_kernel(fd_)));
      value.resize(value.size() + assembly_->pending);
    }
    return boost::asio::buffer(value.data() + value.size() - assembly_->pending,
                               assembly_->pending);
  }
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
  if (assembly_ && assembly_->left > 0) {
    assembly_->pending -= n;
    take_fragment_bytes(n);
    return;
  }
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
  for (;;) {
    if (failure_ || large_ || (assembly_ && assembly_->left > 0)) return std::nullopt;
    if (end_ - begin_ < frame_header_size) return std::nullopt;
    frame_header header = parse_frame_header(buffer_.data() + begin_);
    if (!check_header(header)) return std::nullopt;
    bool fragment = header.kind == static_cast<std::uint8_t>(frame_kind::stream_item) &&
                    (header.flags == frame_flag_more || assembly_);
    if (!fragment) return parse_whole(header);
    // A first fragment is started once its announced size is here too.
    std::size_t prefix = assembly_ ? 0 : std::min<std::size_t>(sizeof(std::uint64_t), header.size);
    if (end_ - begin_ < frame_header_size + prefix) return std::nullopt;
    start_fragment(header);
    if (failure_) return std::nullopt;
    std::size_t n = std::min(end_ - begin_, assembly_->left);
    assembly_->value.append(buffer_.data() + begin_, n);
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
    take_fragment_bytes(n);
    if (completed_) return std::exchange(completed_, std::nullopt);
  }
}

std::optional<frame> frame_reader::parse_whole(const frame_header& header) {
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
    fail("frame of " + std::to_string(header.size) + " bytes exceeds max_message_size " +
         std::to_string(max_message_size_));
    return false;
  }
  bool flags_ok =
      header.flags == 0 || (header.flags == frame_flag_more &&
                            header.kind == static_cast<std::uint8_t>(frame_kind::stream_item));
  if (header.kind == 0 || header.kind > max_frame_kind || !flags_ok) {
    fail("unknown frame kind " + std::to_string(header.kind) + " or flags " +
         std::to_string(header.flags));
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

// Consumes a fragment's header (and a first fragment's announced size) from the read buffer.
void frame_reader::start_fragment(const frame_header& header) {
  auto stream = [&header] { return "stream " + std::to_string(header.id); };  // for errors only
  if (!assembly_) {
    std::uint64_t total = 0;
    if (header.size < sizeof total)
      return fail(stream() + " sent a first fragment without its size");
    std::memcpy(&total, buffer_.data() + begin_ + frame_header_size, sizeof total);
    if (total > max_message_size_)
      return fail(stream() + " announced a value of " + std::to_string(total) +
                  " bytes, over max_message_size " + std::to_string(max_message_size_));
    assembly_ = assembly{};
    assembly_->total = total;
    // Capacity only: pages are touched as bytes arrive, so a false announcement costs nothing.
    assembly_->value.reserve(total);
    begin_ += frame_header_size + sizeof total;
    assembly_->left = header.size - sizeof total;
  } else {
    if (header.id != assembly_->fragment.id)
      return fail(stream() + " sent a value while stream " +
                  std::to_string(assembly_->fragment.id) + "'s was still arriving in fragments");
    begin_ += frame_header_size;
    assembly_->left = header.size;
  }
  assembly_->fragment = header;
  if (assembly_->value.size() + assembly_->left > assembly_->total)
    fail("the fragments of a value of " + stream() + " pass the " +
         std::to_string(assembly_->total) + " bytes it announced");
}

// `n` more bytes of the current fragment are in the value; after the last fragment's last
// byte, the value is a whole `stream_item` frame.
void frame_reader::take_fragment_bytes(std::size_t n) {
  assembly_->left -= n;
  if (assembly_->left > 0 || (assembly_->fragment.flags & frame_flag_more) != 0) return;
  if (assembly_->value.size() != assembly_->total)
    return fail("a value of stream " + std::to_string(assembly_->fragment.id) + " ended at " +
                std::to_string(assembly_->value.size()) + " of the " +
                std::to_string(assembly_->total) + " bytes it announced");
  completed_.emplace(
      frame{frame_kind::stream_item, assembly_->fragment.id, std::move(assembly_->value), 0, 0});
  assembly_.reset();
}

void frame_reader::fail(std::string what) {
  failure_ = error{error_kind::failed, "protocol error from " + peer_ + ": " + what};
}

}  // namespace rpc_parallel::detail
