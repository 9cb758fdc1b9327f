#include "rpc_parallel/detail/metrics_text.hpp"

#include "rpc_parallel/detail/metrics.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <map>
#include <sstream>

namespace rpc_parallel::detail {
namespace json = boost::json;

namespace {

std::uint64_t count_of(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v ? v->to_number<std::uint64_t>() : 0;
}

struct function_sum {
  std::uint64_t outcomes[call_outcome_names.size()] = {};
  std::uint64_t buckets[latency_bounds.size() + 1] = {};
  double seconds = 0;
};

// A label value in the format's quoting: backslash, double quote and newline escaped.
std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Shortest enough: bounds have three significant digits, sums nanosecond resolution.
std::string number(double value, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return text;
}

void family(std::ostream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

// The series without labels: each one number of the snapshots, summed.
struct one_number {
  const char* name;
  const char* type;
  const char* snapshot_key;
  const char* help;
};
constexpr one_number one_number_series[] = {
    {"rpc_parallel_sent_bytes_total", "counter", "sent_bytes",
     "Bytes this app's processes wrote to their connections."},
    {"rpc_parallel_received_bytes_total", "counter", "received_bytes",
     "Bytes this app's processes read from their connections."},
    {"rpc_parallel_stream_ends_open", "gauge", "stream_ends_open",
     "Stream ends open now (a stream between two processes has one at each)."},
    {"rpc_parallel_workers_spawned_total", "counter", "workers_spawned", "Workers that came up."},
    {"rpc_parallel_workers_restarted_total", "counter", "workers_restarted",
     "Workers that came up under the name of one that had ended."},
    {"rpc_parallel_workers_lost_total", "counter", "workers_lost",
     "Workers that died rather than being shut down."},
    {"rpc_parallel_workers_running", "gauge", "workers_running", "Workers running now."},
    {"rpc_parallel_workers_unreachable", "gauge", "workers_unreachable",
     "Running workers that did not answer this scrape (their last figures are counted)."},
    {"rpc_parallel_heartbeat_misses_total", "counter", "heartbeat_misses",
     "Checks that found a connection's peer silent past heartbeat_timeout."},
};

}  // namespace

std::string prometheus_text(const std::vector<json::object>& processes, std::size_t unreachable) {
  std::map<std::string, function_sum> calls;
  std::map<std::string, std::uint64_t> totals;
  std::map<std::string, std::uint64_t> items;
  for (const auto& p : processes) {
    if (auto* c = p.if_contains("calls")) {
      for (const auto& [name, figures] : c->as_object()) {
        const json::object& f = figures.as_object();
        function_sum& sum = calls[std::string(name)];
        for (std::size_t i = 0; i < call_outcome_names.size(); ++i)
          sum.outcomes[i] += count_of(f, std::string(call_outcome_names[i]).c_str());
        const json::array& b = f.at("buckets").as_array();
        for (std::size_t i = 0; i < b.size() && i <= latency_bounds.size(); ++i)
          sum.buckets[i] += b[i].to_number<std::uint64_t>();
        sum.seconds += f.at("seconds").to_number<double>();
      }
    }
    for (const auto& series : one_number_series)
      totals[series.snapshot_key] += count_of(p, series.snapshot_key);
    if (auto* m = p.if_contains("map_items"))
      for (const auto& [outcome, n] : m->as_object())
        items[std::string(outcome)] += n.to_number<std::uint64_t>();
  }

  std::ostringstream out;
  family(out, "rpc_parallel_calls_total", "counter",
         "Calls made in this app, by function and by how they ended for their caller.");
  for (const auto& [name, sum] : calls)
    for (std::size_t i = 0; i < call_outcome_names.size(); ++i)
      out << "rpc_parallel_calls_total{function=" << quoted(name)
          << ",outcome=" << quoted(std::string(call_outcome_names[i])) << "} " << sum.outcomes[i]
          << "\n";
  family(out, "rpc_parallel_call_duration_seconds", "histogram",
         "Time from sending a call to its outcome, as its caller saw it.");
  for (const auto& [name, sum] : calls) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= latency_bounds.size(); ++i) {
      cumulative += sum.buckets[i];
      std::string le = i < latency_bounds.size() ? number(latency_bounds[i], 6) : "+Inf";
      out << "rpc_parallel_call_duration_seconds_bucket{function=" << quoted(name)
          << ",le=" << quoted(le) << "} " << cumulative << "\n";
    }
    out << "rpc_parallel_call_duration_seconds_sum{function=" << quoted(name) << "} "
        << number(sum.seconds, 12) << "\n";
    out << "rpc_parallel_call_duration_seconds_count{function=" << quoted(name) << "} "
        << cumulative << "\n";
  }
  totals["workers_unreachable"] = unreachable;
  for (const auto& series : one_number_series) {
    family(out, series.name, series.type, series.help);
    out << series.name << " " << totals[series.snapshot_key] << "\n";
  }
  family(out, "rpc_parallel_map_items_total", "counter",
         "Map-reduce items, by what happened to them.");
  for (const char* outcome : {"done", "retried", "timed_out", "speculated", "failed"})
    out << "rpc_parallel_map_items_total{outcome=" << quoted(outcome) << "} " << items[outcome]
        << "\n";
  return out.str();
}

}  // namespace rpc_parallel::detail
