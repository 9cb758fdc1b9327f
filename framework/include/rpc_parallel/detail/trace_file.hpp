// The master's trace file (`--rpc-trace FILE`): every span of the app in the Trace Event
// format's JSON array form, which ui.perfetto.dev, chrome://tracing and Chrome DevTools'
// Performance panel open. Spans are written as they come, so the file of a master that was
// killed still opens (that form may lack its closing bracket); one that ends cleanly is plain
// JSON.
//
// Each process is a track (a trace "pid" numbered from 1, the master). Its spans are complete
// ("X") events on threads of their kind: "served", "calls", "streams", "spawns", "map-reduce".
// Spans that overlap in time (calls in flight together) go to further threads of that kind
// ("calls 2", ...), so that no two spans of one thread overlap: viewers draw a thread's spans
// as a stack, and every viewer draws these the same way.
#pragma once

#include "rpc_parallel/detail/trace.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::json {
class object;
}

namespace rpc_parallel::detail {

class trace_file {
 public:
  /// Creates (or truncates) `path`; throws `rpc_error` naming it when it cannot.
  explicit trace_file(const std::string& path);
  /// Ends the JSON array and closes the file.
  ~trace_file();
  trace_file(const trace_file&) = delete;
  trace_file& operator=(const trace_file&) = delete;

  /// Writes `batch`'s spans on its process's track. A process seen for the first time gets the
  /// next track number and metadata naming it ("worker sum-1 (sum_worker) pid 4242 on h2").
  void write(const trace_batch& batch);

  const std::string& path() const noexcept { return path_; }
  std::uint64_t spans_written() const noexcept { return spans_; }
  std::size_t processes() const noexcept { return tracks_.size(); }

 private:
  struct lane {
    int tid = 0;
    std::int64_t busy_until = 0;  // the end of its latest span, µs from the file's time zero
  };
  struct track {
    int pid = 0;
    std::map<std::string, std::vector<lane>, std::less<>> lanes;  // by kind
  };

  track& track_of(const trace_process& p);
  /// The thread of `t` for a span of `category` from `start` to `end`: the first of its kind
  /// that is free by `start`, or a new one.
  int lane_for(track& t, std::string_view category, std::int64_t start, std::int64_t end);
  void put(const boost::json::object& event);

  std::string path_;
  std::FILE* out_ = nullptr;
  std::int64_t origin_us_ = 0;  // the file's time zero: when the master opened it
  std::map<std::pair<std::string, std::int64_t>, track> tracks_;  // by host and pid
  std::uint64_t spans_ = 0;
  bool first_ = true;
};

}  // namespace rpc_parallel::detail
