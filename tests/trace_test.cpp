// The trace file a master writes with --rpc-trace: Trace Event JSON (the array form) with a
// track per process, a span per spawn, per call on both sides, per stream end and per map batch.
#include "support/remote_hosts.hpp"  // contains
#include "support/test_app.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace tests;

namespace {

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

// The traced_run scenario's trace, parsed, with the metrics file of the same run.
struct traced {
  json::array events;
  std::string metrics;
  std::string said;  // the master's stdout and stderr
};

traced run_traced() {
  auto base = std::filesystem::temp_directory_path() / ("trace_test." + std::to_string(::getpid()));
  auto trace = base.string() + ".json", metrics = base.string() + ".prom";
  traced out;
  out.said = output_of(self_path() + " --scenario traced_run --rpc-trace " + trace +
                       " --rpc-metrics-file " + metrics + " 2>&1; echo \"status $?\"");
  std::string file = read_all(trace);
  out.metrics = read_all(metrics);
  std::filesystem::remove(trace);
  std::filesystem::remove(metrics);
  BOOST_TEST_REQUIRE(contains(out.said, "status 0"), out.said);
  boost::system::error_code ec;
  json::value parsed = json::parse(file, ec);
  BOOST_TEST_REQUIRE(!ec, "the trace is not JSON: " << ec.message() << "\n" << file);
  BOOST_TEST_REQUIRE(parsed.is_array(), file);
  out.events = parsed.as_array();
  return out;
}

// The value of the sample `name` in a Prometheus text file (0 when it is not there).
double sample(const std::string& metrics, const std::string& name) {
  auto at = metrics.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stod(metrics.substr(at + name.size() + 2));
}

const json::object* args_of(const json::object& e) {
  auto found = e.find("args");
  return found != e.end() && found->value().is_object() ? &found->value().as_object() : nullptr;
}

std::string arg(const json::object& e, const char* key) {
  const json::object* args = args_of(e);
  if (!args || !args->contains(key)) return "";
  return text(args->at(key));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(trace_suite)

BOOST_AUTO_TEST_CASE(a_map_reduce_run_gives_a_trace_of_every_process_spawn_call_stream_and_batch) {
  traced run = run_traced();
  BOOST_TEST(contains(run.said, "(open it in ui.perfetto.dev)"), run.said);

  // Every event has what the format asks of all of them, and a span's thread is named before it.
  std::map<std::int64_t, std::string> process_names;  // by track
  std::set<std::pair<std::int64_t, std::int64_t>> named_threads;
  std::vector<json::object> spans;  // X and i events
  for (const json::value& v : run.events) {
    BOOST_TEST_REQUIRE(v.is_object(), json::serialize(v));
    const json::object& e = v.as_object();
    for (const char* field : {"name", "cat", "ph", "ts", "pid", "tid"})
      BOOST_TEST_REQUIRE(e.contains(field), field << " missing in " << json::serialize(e));
    BOOST_TEST(e.at("ts").is_number(), json::serialize(e));
    std::string phase(e.at("ph").as_string());
    std::int64_t track = e.at("pid").as_int64(), thread = e.at("tid").as_int64();
    if (phase == "M") {
      if (e.at("name") == "process_name") {
        BOOST_TEST(!process_names.contains(track), "track " << track << " named twice");
        process_names[track] = arg(e, "name");
      }
      if (e.at("name") == "thread_name")
        BOOST_TEST(named_threads.emplace(track, thread).second, json::serialize(e));
      continue;
    }
    BOOST_TEST(named_threads.contains({track, thread}),
               "an event before its thread is named: " << json::serialize(e));
    if (phase == "X") {
      BOOST_TEST_REQUIRE(e.contains("dur"), json::serialize(e));
      BOOST_TEST(e.at("dur").as_int64() >= 0, json::serialize(e));
    } else {
      BOOST_TEST(phase == "i", json::serialize(e));
    }
    spans.push_back(e);
  }
  // No two spans of one thread overlap: viewers draw a thread's spans as a stack.
  std::map<std::pair<std::int64_t, std::int64_t>,
           std::vector<std::pair<std::int64_t, std::int64_t>>>
      by_thread;
  for (const auto& e : spans)
    if (e.at("ph") == "X") {
      std::int64_t start = e.at("ts").as_int64();
      by_thread[{e.at("pid").as_int64(), e.at("tid").as_int64()}].emplace_back(
          start, start + e.at("dur").as_int64());
    }
  for (auto& [thread, intervals] : by_thread) {
    std::sort(intervals.begin(), intervals.end());
    for (std::size_t i = 1; i < intervals.size(); ++i)
      BOOST_TEST(intervals[i - 1].second <= intervals[i].first,
                 "overlapping spans on track " << thread.first << " thread " << thread.second);
  }

  // One track per process: the master, m-0 and m-1, the two mappers, t-2 and t-3.
  BOOST_TEST(process_names.size() == 7u);
  std::set<std::string> pids;
  int workers = 0;
  for (const auto& [track, name] : process_names) {
    BOOST_TEST_MESSAGE("track " << track << ": " << name);
    pids.insert(name.substr(name.find(" pid ")));
    workers += name.rfind("worker ", 0) == 0;
  }
  BOOST_TEST(pids.size() == 7u);
  BOOST_TEST(workers == 6);
  BOOST_TEST(process_names[1].rfind("master pid ", 0) == 0, process_names[1]);

  // The spans by category and name, with the tracks they are on.
  auto count = [&](const std::string& cat, const std::string& name, const std::string& outcome) {
    int n = 0;
    for (const auto& e : spans)
      n += text(e.at("cat")) == cat && text(e.at("name")) == name &&
           (outcome.empty() || arg(e, "outcome") == outcome);
    return n;
  };
  auto tracks_of = [&](const std::string& cat, const std::string& name) {
    std::set<std::int64_t> tracks;
    for (const auto& e : spans)
      if (text(e.at("cat")) == cat && text(e.at("name")) == name)
        tracks.insert(e.at("pid").as_int64());
    return tracks;
  };

  // As many call spans as calls made, by the metrics of the same run, on the master's track;
  // and as many served, on the workers' tracks.
  const std::string echo = "echo_worker.echo", fail = "echo_worker.fail";
  double echoes =
      sample(run.metrics, "rpc_parallel_calls_total{function=\"" + echo + "\",outcome=\"ok\"}");
  double fails =
      sample(run.metrics, "rpc_parallel_calls_total{function=\"" + fail + "\",outcome=\"error\"}");
  BOOST_TEST(echoes == 7);
  BOOST_TEST(fails == 3);
  BOOST_TEST(count("call", echo, "ok") == echoes);
  BOOST_TEST(count("call", fail, "error") == fails);
  BOOST_TEST(count("call", echo, "") == echoes);
  BOOST_TEST((tracks_of("call", echo) == std::set<std::int64_t>{1}));
  BOOST_TEST(count("serve", echo, "") == echoes);
  BOOST_TEST(count("serve", fail, "") == fails);
  auto served_echo = tracks_of("serve", echo), served_fail = tracks_of("serve", fail);
  BOOST_TEST_REQUIRE(served_echo.size() == 1u);
  BOOST_TEST_REQUIRE(served_fail.size() == 1u);
  BOOST_TEST(*served_echo.begin() != 1);
  BOOST_TEST(*served_fail.begin() != *served_echo.begin());

  // A span per spawn, each ok and naming the worker's pid.
  int spawns = 0;
  for (const auto& e : spans)
    if (text(e.at("cat")) == "spawn") {
      ++spawns;
      BOOST_TEST(arg(e, "outcome") == "ok", json::serialize(e));
      BOOST_TEST(!arg(e, "pid").empty(), json::serialize(e));
    }
  BOOST_TEST(spawns == 6);

  // 100 items in batches of 10, and the map-reduce itself.
  BOOST_TEST(count("map", "batch of 10", "answered") == 10);
  BOOST_TEST(count("map", "map_reduce", "done") == 1);
  for (const auto& e : spans)
    if (text(e.at("name")) == "map_reduce") BOOST_TEST(arg(e, "items_done") == "100");

  // The stream from t-2, on both of its ends; the one-way call, sent and served.
  auto stream_tracks = tracks_of("stream", "stream_worker.count");
  BOOST_TEST(stream_tracks.size() == 2u);
  BOOST_TEST(stream_tracks.contains(1));
  BOOST_TEST(count("call", "echo_worker.print", "sent (one-way)") == 1);
  BOOST_TEST(count("serve", "echo_worker.print", "") == 1);
  BOOST_TEST(count("serve", "echo_worker.sleep_async", "") == 1);
}

BOOST_AUTO_TEST_CASE(an_unwritable_trace_file_is_refused_naming_it) {
  std::string said = output_of(self_path() +
                               " --scenario traced_run --rpc-trace /nonexistent/trace.json 2>&1;"
                               " echo \"status $?\"");
  BOOST_TEST(contains(said, "cannot write the trace file /nonexistent/trace.json"), said);
  BOOST_TEST(contains(said, "status 2"), said);
}

BOOST_AUTO_TEST_SUITE_END()
