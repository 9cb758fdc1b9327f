#include "rpc_parallel/detail/trace_file.hpp"

#include "rpc_parallel/error.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

namespace rpc_parallel::detail {
namespace json = boost::json;

namespace {

// Every event has the fields the format asks of all: name, cat, ph, ts (µs), pid and tid.
json::object event(std::string_view name, std::string_view category, std::string_view phase,
                   std::int64_t ts, int pid, int tid) {
  json::object e;
  e["name"] = name;
  e["cat"] = category;
  e["ph"] = phase;
  e["ts"] = ts;
  e["pid"] = pid;
  e["tid"] = tid;
  return e;
}

json::object metadata(std::string_view name, int pid, int tid, std::string_view key,
                      json::value value) {
  json::object e = event(name, "__metadata", "M", 0, pid, tid);
  json::object args;
  args[key] = std::move(value);
  e["args"] = std::move(args);
  return e;
}

std::string process_label(const trace_process& p) {
  std::string label = p.role;  // appended to piece by piece: g++ 12 -Wrestrict (see the rules)
  if (!p.name.empty()) {
    label += ' ';
    label += p.name;
  }
  if (!p.type.empty() && p.type != p.name) {
    label += " (";
    label += p.type;
    label += ')';
  }
  label += " pid ";
  label += std::to_string(p.pid);
  label += " on ";
  label += p.host;
  return label;
}

// The thread a category's spans are drawn on, and the order of those threads in a process.
std::pair<std::string, int> lane_group(std::string_view category) {
  if (category == "serve") return {"served", 1};
  if (category == "call") return {"calls", 2};
  if (category == "stream") return {"streams", 3};
  if (category == "spawn") return {"spawns", 4};
  if (category == "map") return {"map-reduce", 5};
  return {std::string(category), 6};
}

}  // namespace

trace_file::trace_file(const std::string& path)
    : path_(path),
      out_(std::fopen(path.c_str(), "w")),
      origin_us_(std::chrono::duration_cast<std::chrono::microseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count()) {
  RPCP_REQUIRE(out_, "cannot write the trace file ", path,
               " (--rpc-trace): ", std::strerror(errno));
  std::fputs("[\n", out_);
}

trace_file::~trace_file() {
  std::fputs("\n]\n", out_);
  std::fclose(out_);
}

void trace_file::put(const json::object& event) {
  if (!first_) std::fputs(",\n", out_);
  first_ = false;
  std::string text = json::serialize(event);
  std::fwrite(text.data(), 1, text.size(), out_);
}

trace_file::track& trace_file::track_of(const trace_process& p) {
  auto [found, added] = tracks_.try_emplace(std::make_pair(p.host, p.pid));
  track& t = found->second;
  if (!added) return t;
  t.pid = static_cast<int>(tracks_.size());  // the master, whose spans come first, is 1
  put(metadata("process_name", t.pid, 0, "name", json::string(process_label(p))));
  put(metadata("process_sort_index", t.pid, 0, "sort_index", t.pid));
  return t;
}

int trace_file::lane_for(track& t, std::string_view category, std::int64_t start,
                         std::int64_t end) {
  auto [group, order] = lane_group(category);
  std::vector<lane>& lanes = t.lanes[group];
  for (lane& l : lanes)
    if (l.busy_until <= start) {
      l.busy_until = std::max(l.busy_until, end);
      return l.tid;
    }
  // Every lane has a span that has not ended by `start`: a new thread, so that spans on one
  // thread never overlap (viewers draw a thread's spans as a stack).
  // Numbered by kind, then lane: viewers that order threads by id (DevTools) keep the kinds
  // together too.
  int tid = order * 1'000'000 + static_cast<int>(lanes.size()) + 1;
  lanes.push_back({tid, end});
  std::string name = group;
  if (lanes.size() > 1) {
    name += ' ';
    name += std::to_string(lanes.size());
  }
  put(metadata("thread_name", t.pid, tid, "name", json::string(name)));
  put(metadata("thread_sort_index", t.pid, tid, "sort_index", tid));
  return tid;
}

void trace_file::write(const trace_batch& batch) {
  track& t = track_of(batch.from);
  for (const trace_span& s : batch.spans) {
    std::int64_t start = s.start_us - origin_us_;
    std::int64_t end = start + s.duration_us;
    json::object args;
    for (const auto& [key, value] : s.args) args[key] = value;
    if (s.shape == span_shape::instant) {
      // On the first lane of its kind, which need not be free: an instant overlaps nothing.
      int tid = lane_for(t, s.category, std::numeric_limits<std::int64_t>::max(), 0);
      json::object e = event(s.name, s.category, "i", start, t.pid, tid);
      e["s"] = "t";
      e["args"] = std::move(args);
      put(e);
    } else {
      json::object e =
          event(s.name, s.category, "X", start, t.pid, lane_for(t, s.category, start, end));
      e["dur"] = s.duration_us;
      e["args"] = std::move(args);
      put(e);
    }
    ++spans_;
  }
}

}  // namespace rpc_parallel::detail
