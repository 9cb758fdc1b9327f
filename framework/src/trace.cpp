#include "rpc_parallel/detail/trace.hpp"

#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/trace_file.hpp"
#include "rpc_parallel/detail/transport.hpp"

#include <unistd.h>

namespace rpc_parallel::detail {

std::atomic<bool> tracer::on_{false};

tracer& tracer::of_this_process() noexcept {
  static tracer* the = new tracer;  // never destroyed: a span may end during exit
  return *the;
}

void tracer::start() {
  std::lock_guard lock(mutex_);
  self_.host = host_name();
  self_.pid = static_cast<std::int64_t>(::getpid());
  steady_origin_ = clock::now();
  wall_origin_us_ = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  on_.store(true, std::memory_order_relaxed);
}

void tracer::name_this_process(std::string name, std::string type) {
  std::lock_guard lock(mutex_);
  self_.role = "worker";
  self_.name = std::move(name);
  self_.type = std::move(type);
}

void tracer::write_to(trace_file* file) {
  std::lock_guard lock(mutex_);
  file_ = file;
  if (!file_) return;
  file_->write(trace_batch{self_, {}});  // the master's track first
  for (const auto& batch : pending_) file_->write(batch);
  pending_.clear();
}

std::int64_t tracer::wall_us(clock::time_point t) const noexcept {
  return wall_origin_us_ +
         std::chrono::duration_cast<std::chrono::microseconds>(t - steady_origin_).count();
}

void tracer::record(std::string_view category, std::string name, clock::time_point start,
                    clock::time_point end, args details) {
  trace_span span;
  span.category = category;
  span.name = std::move(name);
  span.args = std::move(details);
  std::lock_guard lock(mutex_);
  span.start_us = wall_us(start);
  span.duration_us = std::max<std::int64_t>(0, wall_us(end) - span.start_us);
  keep_own(std::move(span));
}

void tracer::record_instant(std::string_view category, std::string name, clock::time_point at,
                            args details) {
  trace_span span;
  span.category = category;
  span.name = std::move(name);
  span.shape = span_shape::instant;
  span.args = std::move(details);
  std::lock_guard lock(mutex_);
  span.start_us = wall_us(at);
  keep_own(std::move(span));
}

void tracer::keep_own(trace_span span) {
  if (file_) {
    file_->write(trace_batch{self_, {std::move(span)}});
    return;
  }
  if (pending_.empty() || pending_.front().from != self_)
    pending_.insert(pending_.begin(), trace_batch{self_, {}});
  pending_.front().spans.push_back(std::move(span));
}

void tracer::keep(trace_batch batch) {
  if (file_) {
    file_->write(batch);
    return;
  }
  pending_.push_back(std::move(batch));
}

void tracer::absorb(std::string_view payload) {
  std::vector<trace_batch> batches;
  try {
    batches = decode<std::vector<trace_batch>>(payload, "trace spans");
  } catch (const std::exception&) {
    return;  // a trace is no reason to fail a connection
  }
  std::lock_guard lock(mutex_);
  for (auto& batch : batches) keep(std::move(batch));
}

std::string tracer::take_pending() {
  std::vector<trace_batch> batches;
  {
    std::lock_guard lock(mutex_);
    batches.swap(pending_);
  }
  if (batches.empty()) return {};
  std::string payload;
  encode(batches, payload);
  return payload;
}

tracer::scope::scope(std::string_view category, std::string_view type, std::string_view function)
    : category_(category), type_(type), function_(function) {
  if (on()) start_ = clock::now();
}

tracer::scope::~scope() {
  if (start_ == clock::time_point{}) return;
  std::string name(type_);
  name += '.';
  name += function_;
  of_this_process().record(category_, std::move(name), start_, clock::now());
}

void send_pending_trace(transport& t) {
  if (!tracer::on() || !t.is_open()) return;
  std::string payload = tracer::of_this_process().take_pending();
  if (!payload.empty()) t.send(frame_kind::trace, 0, payload);
}

void stream_span::open(std::string name) {
  if (!tracer::on()) return;
  name_ = std::move(name);
  start_ = tracer::clock::now();
}

void stream_span::close() noexcept {
  if (start_ == tracer::clock::time_point{}) return;
  auto start = std::exchange(start_, tracer::clock::time_point{});
  try {
    tracer::of_this_process().record("stream", std::move(name_), start, tracer::clock::now());
  } catch (...) {
    // Out of memory while tracing: the span is lost, the stream is not.
  }
}

}  // namespace rpc_parallel::detail
