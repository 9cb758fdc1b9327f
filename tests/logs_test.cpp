// --rpc-log-json: what the master's stderr carries (its own messages, write_log's in every process,
// and each worker's stderr lines) is one JSON object per line, saying who wrote it.
#include "support/child_process.hpp"
#include "support/remote_hosts.hpp"  // contains
#include "support/test_app.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace json = boost::json;
using namespace tests;

namespace {

struct log_reader {
  int fd;
  std::vector<std::string> lines;

  // Reads on until a line satisfies `wanted` (true), or 20 s pass (false).
  bool until(const std::function<bool(const std::string&)>& wanted) {
    for (const auto& line : lines)
      if (wanted(line)) return true;
    auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end) {
      auto more = read_lines_until(fd, "(never printed)", 1s);
      lines.insert(lines.end(), more.begin(), more.end());
      for (const auto& line : more)
        if (wanted(line)) return true;
    }
    return false;
  }
};

// The JSON line whose worker and text are these, as an object (empty if none is).
json::object find(const std::vector<std::string>& lines, const std::string& worker,
                  const std::string& text_part) {
  for (const auto& line : lines) {
    if (!line.starts_with('{')) continue;
    json::object o = json::parse(line).as_object();
    if (o.at("worker").as_string() == worker &&
        contains(std::string(o.at("text").as_string()), text_part))
      return o;
  }
  return {};
}

std::string text_of(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return "(missing)";
  return v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logs_suite)

BOOST_AUTO_TEST_CASE(every_line_on_the_masters_stderr_is_json_saying_who_wrote_it) {
  child master = launch({self_path(), "--scenario", "log_lines", "--rpc-log-json"}, true);
  log_reader reader{master.stdout_fd, read_lines_until(master.stdout_fd, "ready", 60s)};
  BOOST_REQUIRE(!reader.lines.empty() && reader.lines.back() == "ready");
  std::string printer_pid;
  for (const auto& line : reader.lines)
    if (line.starts_with("pid ")) printer_pid = line.substr(4);
  auto has = [&](const std::string& worker, const std::string& text) {
    return [&reader, worker, text](const std::string&) {
      return !find(reader.lines, worker, text).empty();
    };
  };
  BOOST_TEST(reader.until(has("j-1", "err 0")));
  BOOST_TEST(reader.until(has("j-0", "logged by the worker")));

  json::object master_log = find(reader.lines, "master", "logged by the master");
  BOOST_TEST(text_of(master_log, "level") == "error");
  BOOST_TEST(text_of(master_log, "pid") == std::to_string(master.pid));
  BOOST_TEST(text_of(master_log, "host") == output_of("hostname"));
  BOOST_TEST(text_of(master_log, "time").ends_with("Z"), text_of(master_log, "time"));
  json::object worker_log = find(reader.lines, "j-0", "logged by the worker");
  BOOST_TEST(text_of(worker_log, "level") == "info");
  json::object printed = find(reader.lines, "j-1", "err 0");
  BOOST_TEST(text_of(printed, "text") == "err 0");
  BOOST_TEST(text_of(printed, "pid") == printer_pid);

  // A framework message: the death of a worker, as the master reports it.
  ::kill(std::stoi(printer_pid), SIGKILL);
  BOOST_TEST(reader.until(has("master", "worker \"j-1\" died")));
  BOOST_TEST(text_of(find(reader.lines, "master", "worker \"j-1\" died"), "level") == "error");

  for (const auto& line : reader.lines) {
    // The scenario's stdout and the worker's (stdout is program output, not a log).
    if (line == "ready" || line.starts_with("pid ") || line == "out 0") continue;
    BOOST_TEST(line.starts_with('{'), line);
  }
  ::kill(master.pid, SIGKILL);
  BOOST_TEST(reap_within(master.pid, 10s));
}

BOOST_AUTO_TEST_SUITE_END()
