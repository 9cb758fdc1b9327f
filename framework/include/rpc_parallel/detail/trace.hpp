// What a process records for the app's trace file (`--rpc-trace FILE`, docs/observability.md):
// spans of the workers it spawns, the calls it makes and serves, its streams and its map-reduce
// batches. Off unless the app asks; one relaxed load then decides.
//
// Where spans go: the master's go straight to its file (trace_file.hpp). A worker keeps its own
// until they can travel towards the master: in a `trace` frame just before its next reply on any
// connection (so a caller that has an answer also has the worker's span of it), and on its link
// as it exits. A caller that gets such a frame passes it on the same way: to its file if it is
// the master, else with its own next reply. Every span keeps the process it came from.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rpc_parallel::detail {

class transport;
class trace_file;

enum class span_shape : std::uint8_t {
  interval,  ///< From a start to an end: a call, a spawn, a stream, a batch.
  instant,   ///< A moment (a one-way call sent).
};

/// One span as it travels: times in microseconds of its host's wall clock.
struct trace_span {
  std::string category;  ///< "call", "serve", "spawn", "stream" or "map".
  std::string name;
  std::int64_t start_us = 0;
  std::int64_t duration_us = 0;
  span_shape shape = span_shape::interval;
  std::vector<std::pair<std::string, std::string>> args;

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& category& name& start_us& duration_us& shape& args;
  }
};

/// The process a span comes from.
struct trace_process {
  std::string host;
  std::int64_t pid = 0;
  std::string role = "master";  ///< "master" or "worker"
  std::string name, type;       ///< A worker's.

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& host& pid& role& name& type;
  }
  bool operator==(const trace_process&) const = default;
};

struct trace_batch {
  trace_process from;
  std::vector<trace_span> spans;

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& from& spans;
  }
};

class tracer {
 public:
  using clock = std::chrono::steady_clock;
  using args = std::vector<std::pair<std::string, std::string>>;

  static tracer& of_this_process() noexcept;
  static bool on() noexcept { return on_.load(std::memory_order_relaxed); }

  /// Starts recording, as this host's master (the node does, from rpc_settings::trace_file).
  void start();
  /// Stops recording (the master's node, as it closes its file).
  static void stop() noexcept { on_.store(false, std::memory_order_relaxed); }
  /// This process is worker `name` of `type` (its runtime says so as it starts).
  void name_this_process(std::string name, std::string type);
  /// The master's: spans go to `file` from now on; null stops that (before the file closes).
  void write_to(trace_file* file);

  /// A span of this process from `start` to `end`.
  void record(std::string_view category, std::string name, clock::time_point start,
              clock::time_point end, args details = {});
  /// A moment of this process.
  void record_instant(std::string_view category, std::string name, clock::time_point at,
                      args details = {});
  /// Spans from a worker of this process (a `trace` frame's payload): to the file, or on
  /// towards this process's own master. Malformed ones are dropped.
  void absorb(std::string_view payload);
  /// The spans waiting to travel towards the master, as a `trace` frame's payload; "" if none.
  std::string take_pending();

  /// Records a span from its construction to its destruction, when tracing is on.
  class scope {
   public:
    scope(std::string_view category, std::string_view type, std::string_view function);
    ~scope();
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

   private:
    std::string_view category_, type_, function_;
    clock::time_point start_{};
  };

 private:
  std::int64_t wall_us(clock::time_point t) const noexcept;
  void keep_own(trace_span span);  // under mutex_
  void keep(trace_batch batch);    // under mutex_

  static std::atomic<bool> on_;
  mutable std::mutex mutex_;
  trace_process self_;
  clock::time_point steady_origin_{};
  std::int64_t wall_origin_us_ = 0;
  trace_file* file_ = nullptr;
  std::vector<trace_batch> pending_;  // this process's own first, then its workers'
};

/// Sends the spans waiting in this process on `t` (a `trace` frame) when tracing is on and
/// there are some: a worker does so just before each reply.
void send_pending_trace(transport& t);

/// A stream end's lifetime span, from its opening until it holds no more state.
class stream_span {
 public:
  /// Starts it when tracing is on; `name` is the stream function's ("type.function").
  void open(std::string name);
  /// Records it (once).
  void close() noexcept;
  ~stream_span() { close(); }

 private:
  std::string name_;
  tracer::clock::time_point start_{};
};

}  // namespace rpc_parallel::detail
