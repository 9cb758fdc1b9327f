#include "rpc_parallel/detail/stream_channel.hpp"

#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/transport.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstring>

namespace rpc_parallel {

std::string_view to_string(stream_closed_by who) noexcept {
  switch (who) {
    case stream_closed_by::nobody:
      return "open";
    case stream_closed_by::remote_side:
      return "by remote side";
    case stream_closed_by::local_side:
      return "by local side";
  }
  return "unknown";
}

}  // namespace rpc_parallel

namespace rpc_parallel::detail {
namespace asio = boost::asio;

namespace {
std::atomic<std::int64_t> open_ends{0};
}  // namespace

std::int64_t open_stream_ends() noexcept { return open_ends.load(std::memory_order_relaxed); }

// ---- inbound ----

inbound_stream::inbound_stream(std::shared_ptr<transport> t, std::uint64_t id)
    : transport_(std::move(t)), id_(id), changed_(transport_->socket().get_executor()) {
  open_ends.fetch_add(1, std::memory_order_relaxed);
}

inbound_stream::~inbound_stream() {
  request_abort();
  open_ends.fetch_sub(1, std::memory_order_relaxed);
}

void inbound_stream::expire_at(std::chrono::steady_clock::time_point deadline,
                               rpc_parallel::error failure) {
  deadline_.emplace(transport_->socket().get_executor(), deadline);
  deadline_->async_wait([weak = weak_from_this(),
                         failure = std::move(failure)](boost::system::error_code ec) mutable {
    auto self = weak.lock();
    if (ec || !self || self->ended()) return;
    self->items_.clear();
    self->failure_ = std::move(failure);
    self->request_abort();
    self->changed_.notify();
  });
}

void inbound_stream::send_control(frame_kind kind, std::uint64_t value) noexcept {
  if (!transport_->is_open()) return;
  try {
    char bytes[sizeof value];
    std::memcpy(bytes, &value, sizeof value);
    transport_->send(kind, id_,
                     std::string_view(bytes, kind == frame_kind::stream_credit ? sizeof value : 0));
  } catch (const rpc_error&) {
    // The connection closed meanwhile; its end reaches every stream through the table.
  }
}

void inbound_stream::grant_window() {
  std::uint64_t window = transport_->settings().stream_window;
  credit_outstanding_ += static_cast<std::int64_t>(window);
  send_control(frame_kind::stream_credit, window);
}

void inbound_stream::on_item(std::string payload) {
  if (ended()) return;  // closed here: the writer has not heard yet
  std::int64_t size = static_cast<std::int64_t>(payload.size() + frame_header_size);
  credit_outstanding_ -= size;
  std::int64_t one_value =
      static_cast<std::int64_t>(transport_->settings().max_message_size + frame_header_size);
  if (credit_outstanding_ < -one_value)
    throw rpc_error({error_kind::failed, "protocol error from " + transport_->peer() + ": stream " +
                                             std::to_string(id_) +
                                             " overran its flow-control window"});
  items_.push_back(std::move(payload));
  changed_.notify();
}

void inbound_stream::on_end(std::optional<rpc_parallel::error> failure) {
  if (ended()) return;
  trace_.close();
  if (failure)
    failure_ = std::move(failure);
  else
    closed_by_ = stream_closed_by::remote_side;
  abort_sent_ = true;  // the writer is done: nothing to stop
  changed_.notify();
}

void inbound_stream::on_disconnect(const std::string& why) {
  if (ended()) return;
  trace_.close();
  failure_ = rpc_parallel::error{
      error_kind::disconnected,
      "stream from " + transport_->peer() + " ended early: the connection was lost" + why};
  abort_sent_ = true;
  changed_.notify();
}

asio::awaitable<std::optional<std::string>> inbound_stream::next() {
  for (;;) {
    if (!items_.empty()) {
      std::string value = std::move(items_.front());
      items_.pop_front();
      consumed_unreported_ += value.size() + frame_header_size;
      // Grant in quarters of the window: few credit frames, and the writer never runs dry.
      std::uint64_t window = transport_->settings().stream_window;
      if (consumed_unreported_ >= window / 4 && !ended()) {
        credit_outstanding_ += static_cast<std::int64_t>(consumed_unreported_);
        send_control(frame_kind::stream_credit, consumed_unreported_);
        consumed_unreported_ = 0;
      }
      co_return value;
    }
    if (failure_) throw rpc_error(*failure_);
    if (closed_by_ != stream_closed_by::nobody) co_return std::nullopt;
    co_await changed_.wait();
  }
}

void inbound_stream::close() noexcept {
  trace_.close();
  items_.clear();
  if (!ended()) closed_by_ = stream_closed_by::local_side;
  failure_.reset();
  request_abort();
  changed_.notify();
}

void inbound_stream::request_abort() noexcept {
  if (abort_sent_) return;
  abort_sent_ = true;
  send_control(frame_kind::stream_abort, 0);
}

// ---- outbound ----

outbound_stream::outbound_stream(std::shared_ptr<transport> t, std::uint64_t id, bool held)
    : transport_(std::move(t)),
      id_(id),
      held_(held),
      changed_(transport_->socket().get_executor()) {
  open_ends.fetch_add(1, std::memory_order_relaxed);
}

outbound_stream::~outbound_stream() {
  if (!closed_) open_ends.fetch_sub(1, std::memory_order_relaxed);
}

void outbound_stream::mark_closed() noexcept {
  if (!closed_) open_ends.fetch_sub(1, std::memory_order_relaxed);
  trace_.close();
  closing_ = closed_ = true;
}

std::shared_ptr<outbound_stream> writer_handle(std::shared_ptr<outbound_stream> s) {
  outbound_stream* raw = s.get();
  return std::shared_ptr<outbound_stream>(raw, [keep = std::move(s)](outbound_stream*) mutable {
    keep->close();  // the queue still drains as credit comes: the table keeps the stream
    keep.reset();
  });
}

bool outbound_stream::write(stream_value v) {
  std::size_t size = v.payload_size();
  if (size > transport_->settings().max_message_size)
    throw rpc_error(
        {error_kind::failed, "stream value of " + std::to_string(size) + " bytes to " +
                                 transport_->peer() + " exceeds max_message_size " +
                                 std::to_string(transport_->settings().max_message_size) +
                                 "; send it in parts or raise max_message_size"});
  if (is_closed()) return false;
  if (!held_ && queue_.empty() && credit_ > 0) {
    credit_ -= static_cast<std::int64_t>(v.frame_size());
    try {
      transport_->send_stream(std::move(v), frame_kind::stream_item, id_);
    } catch (const rpc_error&) {
      on_disconnect();
      return false;
    }
    return true;
  }
  queued_bytes_ += v.frame_size();
  queue_.push_back(std::move(v));
  return true;
}

void outbound_stream::pump() noexcept {
  if (closed_ || held_) return;
  try {
    while (!queue_.empty() && credit_ > 0) {
      stream_value v = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= v.frame_size();
      credit_ -= static_cast<std::int64_t>(v.frame_size());
      transport_->send_stream(std::move(v), frame_kind::stream_item, id_);
    }
  } catch (const rpc_error&) {
    on_disconnect();
    return;
  }
  if (queue_.empty()) {
    if (closing_) finish();
    changed_.notify();
  }
}

void outbound_stream::finish() noexcept {
  mark_closed();
  if (transport_->is_open()) {
    try {
      // The spans so far, this end's included, go ahead of the end (on the priority lane): the
      // reader that has seen the end has them.
      send_pending_trace(*transport_);
      // On the stream lane, after the values.
      std::string end = begin_frame();
      if (failure_) encode(*failure_, end);
      transport_->send_stream({std::move(end)}, frame_kind::stream_end, id_);
    } catch (const rpc_error&) {
      // Closed meanwhile: the reader learns from the disconnect.
    }
  }
  changed_.notify();
}

asio::awaitable<void> outbound_stream::flushed() {
  while (!closed_ && (held_ || !queue_.empty())) co_await changed_.wait();
}

asio::awaitable<void> outbound_stream::closed() {
  while (!closed_) co_await changed_.wait();
}

void outbound_stream::close(std::optional<rpc_parallel::error> failure) noexcept {
  if (is_closed()) return;
  closing_ = true;
  failure_ = std::move(failure);
  if (!held_ && queue_.empty()) finish();
  changed_.notify();
}

void outbound_stream::fail_now(rpc_parallel::error failure) noexcept {
  if (closed_) return;
  queue_.clear();
  queued_bytes_ = 0;
  closing_ = true;
  held_ = false;
  failure_ = std::move(failure);
  finish();
}

void outbound_stream::release() noexcept {
  held_ = false;
  pump();
}

void outbound_stream::discard() noexcept {
  queue_.clear();
  queued_bytes_ = 0;
  mark_closed();
  changed_.notify();
}

void outbound_stream::on_credit(std::uint64_t bytes) noexcept {
  credit_ += static_cast<std::int64_t>(bytes);
  pump();
}

void outbound_stream::on_abort() noexcept {
  if (closed_) return;
  queue_.clear();
  queued_bytes_ = 0;
  closing_ = true;
  held_ = false;
  failure_.reset();
  finish();  // the reader waits for this end
}

void outbound_stream::on_disconnect() noexcept {
  queue_.clear();
  queued_bytes_ = 0;
  mark_closed();
  changed_.notify();
}

// ---- table ----

void stream_table::sweep() {
  if (inbound_.size() + outbound_.size() < sweep_at_) return;
  std::erase_if(inbound_, [](const auto& entry) { return entry.second.expired(); });
  std::erase_if(outbound_, [](const auto& entry) { return entry.second->finished(); });
  sweep_at_ = std::max<std::size_t>(64, 2 * (inbound_.size() + outbound_.size()));
}

std::shared_ptr<inbound_stream> stream_table::open_inbound(std::shared_ptr<transport> t,
                                                           std::uint64_t id) {
  sweep();
  auto s = std::make_shared<inbound_stream>(std::move(t), id);
  inbound_[id] = s;
  return s;
}

std::shared_ptr<outbound_stream> stream_table::open_outbound(std::shared_ptr<transport> t,
                                                             std::uint64_t id, bool held) {
  sweep();
  auto s = std::make_shared<outbound_stream>(std::move(t), id, held);
  outbound_[id] = s;
  return s;
}

std::shared_ptr<inbound_stream> stream_table::find_inbound(std::uint64_t id) const {
  auto found = inbound_.find(id);
  return found == inbound_.end() ? nullptr : found->second.lock();
}

std::shared_ptr<outbound_stream> stream_table::find_outbound(std::uint64_t id) const {
  auto found = outbound_.find(id);
  return found == outbound_.end() || found->second->finished() ? nullptr : found->second;
}

bool stream_table::route(frame& f) {
  switch (f.kind) {
    case frame_kind::stream_item:
    case frame_kind::stream_end: {
      auto found = inbound_.find(f.id);
      if (found == inbound_.end()) return true;  // its reader is gone: drop
      auto s = found->second.lock();
      if (!s || f.kind == frame_kind::stream_end) inbound_.erase(found);
      if (!s) return true;
      if (f.kind == frame_kind::stream_item) {
        s->on_item(std::move(f.payload));
      } else if (f.payload.empty()) {
        s->on_end(std::nullopt);
      } else {
        s->on_end(decode<rpc_parallel::error>(f.payload, "stream end"));
      }
      return true;
    }
    case frame_kind::stream_credit:
    case frame_kind::stream_abort: {
      auto found = outbound_.find(f.id);
      if (found == outbound_.end()) return true;
      auto s = found->second;
      if (f.kind == frame_kind::stream_abort || s->finished()) outbound_.erase(found);
      if (f.kind == frame_kind::stream_abort) {
        s->on_abort();
      } else {
        s->on_credit(decode<std::uint64_t>(f.payload, "stream credit"));
      }
      return true;
    }
    default:
      return false;
  }
}

void stream_table::disconnect(const std::string& why) noexcept {
  auto inbound = std::move(inbound_);
  auto outbound = std::move(outbound_);
  inbound_.clear();
  outbound_.clear();
  for (auto& [id, weak] : inbound)
    if (auto s = weak.lock()) s->on_disconnect(why);
  for (auto& [id, s] : outbound) s->on_disconnect();
}

}  // namespace rpc_parallel::detail
