// What `APP --rpc-status` and `APP --rpc-stacks` show of a running app: a master with four local
// workers and two on sshd hosts, one of them busy in a plain function.
#include "support/child_process.hpp"
#include "support/remote_hosts.hpp"
#include "support/test_app.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>
#include <chrono>
#include <functional>
#include <map>
#include <string>

using namespace std::chrono_literals;
namespace json = boost::json;
using namespace tests;

BOOST_TEST_GLOBAL_FIXTURE(hosts_fixture);

namespace {

struct watched_app {
  child master;
  std::map<std::string, std::int64_t> pids;  // by worker name
};

watched_app start_watched_app() {
  std::vector<std::string> argv{self_path(), "--scenario", "status_watch"};
  for (std::size_t i = 0; i < 2; ++i) argv.push_back(hosts->names.at(i));
  watched_app app{launch(argv), {}};
  auto lines = read_lines_until(app.master.stdout_fd, "ready", 120s);
  BOOST_REQUIRE(!lines.empty() && lines.back() == "ready");
  for (const auto& line : lines) {
    if (line.rfind("pid ", 0) != 0) continue;
    auto space = line.rfind(' ');
    app.pids[line.substr(4, space - 4)] = std::stoll(line.substr(space + 1));
  }
  BOOST_REQUIRE_EQUAL(app.pids.size(), 6u);
  return app;
}

void stop(const watched_app& app) {
  ::kill(app.master.pid, SIGKILL);
  BOOST_TEST(reap_within(app.master.pid, 10s));
}

// A field as text: a string's characters, anything else as JSON (so a wrong kind shows).
std::string text_of(const json::value& value) {
  return value.is_string() ? std::string(value.get_string()) : json::serialize(value);
}

// Asks until the answer satisfies `done`, for up to 20 s: what the app shows changes
// as its calls start.
template <class Done>
std::string ask_until(const std::function<std::string()>& ask, Done done) {
  auto end = std::chrono::steady_clock::now() + 20s;
  std::string output = ask();
  while (!done(output) && std::chrono::steady_clock::now() < end) output = ask();
  return output;
}

std::string tool(const watched_app& app, const std::string& flags) {
  return output_of(self_path() + " " + flags + " " + std::to_string(app.master.pid) + " 2>&1");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_suite)

BOOST_AUTO_TEST_CASE(status_json_lists_every_worker_with_its_host_pid_and_state) {
  watched_app app = start_watched_app();
  // The spin starts once its call arrives: ask until the busy worker says so.
  auto has_busy = [](const std::string& output) {
    return output.find("\"state\":\"busy\"") != std::string::npos;
  };
  std::string output = ask_until([&] { return tool(app, "--rpc-status --json"); }, has_busy);
  json::object status = json::parse(output).as_object();
  BOOST_TEST(status.at("master").as_object().at("pid").to_number<std::int64_t>() == app.master.pid);
  const json::array& workers = status.at("workers").as_array();
  BOOST_TEST(workers.size() == 6u);
  std::string here = output_of("hostname");
  for (const auto& value : workers) {
    const json::object& w = value.as_object();
    std::string name(w.at("name").as_string());
    BOOST_TEST_CONTEXT("worker " << name) {
      BOOST_TEST(text_of(w.at("type")) == "cancel_worker");
      BOOST_TEST(w.at("pid").to_number<std::int64_t>() == app.pids.at(name));
      const json::object& report = w.at("report").as_object();
      BOOST_TEST(report.at("pid").to_number<std::int64_t>() == app.pids.at(name));
      std::string host(w.at("host").as_string());
      if (name.rfind("remote-", 0) == 0) {
        BOOST_TEST(host == name.substr(7));
        BOOST_TEST(text_of(report.at("host")) == output_on(host, "hostname"));
      } else {
        BOOST_TEST(text_of(report.at("host")) == here);
      }
      if (name == "local-1") {
        BOOST_TEST(text_of(w.at("state")) == "busy");
        BOOST_TEST(text_of(report.at("busy_function")) == "cancel_worker.spin");
        BOOST_TEST(report.at("busy_seconds").to_number<double>() > 0);
      } else {
        BOOST_TEST(text_of(w.at("state")) == "idle");
      }
    }
  }
  std::string text = tool(app, "--rpc-status");
  BOOST_TEST_MESSAGE(output << "\n" << text);
  BOOST_TEST(text.find("busy in cancel_worker.spin for") != std::string::npos, text);
  stop(app);
}

BOOST_AUTO_TEST_CASE(stacks_show_the_function_a_busy_worker_is_in) {
  watched_app app = start_watched_app();
  std::string stacks = ask_until([&] { return tool(app, "--rpc-stacks"); },
                                 [](const std::string& output) {
                                   return output.find("spin_until_cancelled") != std::string::npos;
                                 });
  BOOST_TEST_MESSAGE(stacks);
  auto busy = stacks.find("== worker \"local-1\"");
  BOOST_REQUIRE_MESSAGE(busy != std::string::npos, stacks);
  auto next = stacks.find("== worker", busy + 1);
  std::string section = stacks.substr(busy, next - busy);
  BOOST_TEST(section.find("user thread:") != std::string::npos, section);
  BOOST_TEST(section.find("spin_until_cancelled") != std::string::npos, section);
  BOOST_TEST(stacks.find("== worker \"remote-" + hosts->names.at(0) + "\"") != std::string::npos,
             stacks);
  stop(app);
}

BOOST_AUTO_TEST_CASE(status_of_no_master_says_so) {
  std::string text = output_of(self_path() + " --rpc-status 999999999 2>&1");
  BOOST_TEST(text.find("is no master of this user's running") != std::string::npos, text);
}

BOOST_AUTO_TEST_SUITE_END()
