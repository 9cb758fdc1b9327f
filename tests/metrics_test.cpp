// The metrics a master serves with --rpc-metrics-port (or writes with --rpc-metrics-file): scraped
// over HTTP, checked by Prometheus' own `promtool check metrics`, and counting the calls made.
#include "support/child_process.hpp"
#include "support/remote_hosts.hpp"  // contains
#include "support/test_app.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using namespace tests;

namespace {

struct scraped {
  std::string head;  // status line and headers
  std::string body;
};

// One HTTP/1.0 GET of `url` ("http://127.0.0.1:PORT/PATH"): the server closes after answering.
scraped get(const std::string& url, const std::string& path) {
  auto host_start = url.find("//") + 2;
  auto colon = url.find(':', host_start);
  auto slash = url.find('/', colon);
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::ip::tcp::endpoint server(
      asio::ip::make_address(url.substr(host_start, colon - host_start)),
      static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1, slash))));
  socket.connect(server);
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n";
  asio::write(socket, asio::buffer(request));
  std::string answer;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(answer), ec);  // to the end: eof
  auto split = answer.find("\r\n\r\n");
  BOOST_REQUIRE_MESSAGE(split != std::string::npos, "no HTTP answer: " << answer);
  return {answer.substr(0, split), answer.substr(split + 4)};
}

// "name{labels} value" lines by "name{labels}".
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// What `promtool check metrics` says of `text` (empty when it finds nothing), and its status.
std::pair<int, std::string> promtool(const std::string& text) {
  auto file =
      std::filesystem::temp_directory_path() / ("metrics_test." + std::to_string(::getpid()));
  std::ofstream(file) << text;
  std::string said =
      output_of("promtool check metrics < " + file.string() + " 2>&1; echo \"status $?\"");
  std::filesystem::remove(file);
  auto last = said.rfind("status ");
  return {std::stoi(said.substr(last + 7)), said.substr(0, last)};
}

struct running_app {
  child master;
  std::string url;
};

running_app start(const std::vector<std::string>& flags) {
  std::vector<std::string> argv{self_path(), "--scenario", "metrics_calls"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  running_app app{launch(argv, true), {}};
  auto lines = read_lines_until(app.master.stdout_fd, "ready", 60s);
  BOOST_REQUIRE_MESSAGE(!lines.empty() && lines.back() == "ready", lines.size());
  for (const auto& line : lines)
    if (auto at = line.find("metrics at "); at != std::string::npos) app.url = line.substr(at + 11);
  return app;
}

void stop(const running_app& app) {
  ::kill(app.master.pid, SIGKILL);
  BOOST_TEST(reap_within(app.master.pid, 10s));
}

const std::string echo = "function=\"echo_worker.echo\"";
const std::string fail = "function=\"echo_worker.fail\"";

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_suite)

BOOST_AUTO_TEST_CASE(the_scraped_text_passes_promtool_and_counts_the_calls_made) {
  running_app app = start({"--rpc-metrics-port", "0"});
  BOOST_REQUIRE_MESSAGE(app.url.rfind("http://127.0.0.1:", 0) == 0, app.url);
  scraped answer = get(app.url, "/metrics");
  BOOST_TEST(contains(answer.head, "HTTP/1.0 200"), answer.head);
  BOOST_TEST(contains(answer.head, "Content-Type: text/plain; version=0.0.4"), answer.head);
  BOOST_TEST_MESSAGE(answer.body);
  auto [status, said] = promtool(answer.body);
  BOOST_TEST(status == 0, said);
  BOOST_TEST(said.empty(), said);

  auto s = samples(answer.body);
  BOOST_TEST(s["rpc_parallel_calls_total{" + echo + ",outcome=\"ok\"}"] == 7);
  BOOST_TEST(s["rpc_parallel_calls_total{" + echo + ",outcome=\"error\"}"] == 0);
  BOOST_TEST(s["rpc_parallel_calls_total{" + fail + ",outcome=\"error\"}"] == 3);
  BOOST_TEST(s["rpc_parallel_calls_total{" + fail + ",outcome=\"ok\"}"] == 0);
  BOOST_TEST(s["rpc_parallel_call_duration_seconds_count{" + echo + "}"] == 7);
  BOOST_TEST(s["rpc_parallel_call_duration_seconds_bucket{" + echo + ",le=\"+Inf\"}"] == 7);
  BOOST_TEST(s["rpc_parallel_call_duration_seconds_sum{" + echo + "}"] > 0);
  BOOST_TEST(s["rpc_parallel_map_items_total{outcome=\"done\"}"] == 100);
  BOOST_TEST(s["rpc_parallel_map_items_total{outcome=\"failed\"}"] == 0);
  BOOST_TEST(s["rpc_parallel_workers_spawned_total"] == 4);  // two echo workers, two mappers
  BOOST_TEST(s["rpc_parallel_workers_running"] == 4);
  BOOST_TEST(s["rpc_parallel_workers_lost_total"] == 0);
  BOOST_TEST(s["rpc_parallel_workers_unreachable"] == 0);
  // Every process reports, and every byte one of them sent another one received.
  BOOST_TEST(s["rpc_parallel_sent_bytes_total"] > 0);
  BOOST_TEST(s["rpc_parallel_sent_bytes_total"] == s["rpc_parallel_received_bytes_total"]);

  // Asked again, the counters are the same: scraping makes no calls of its own.
  auto again = samples(get(app.url, "/metrics").body);
  BOOST_TEST(again["rpc_parallel_calls_total{" + echo + ",outcome=\"ok\"}"] == 7);
  scraped elsewhere = get(app.url, "/other");
  BOOST_TEST(contains(elsewhere.head, "404"), elsewhere.head);
  BOOST_TEST(contains(elsewhere.body, "/metrics"), elsewhere.body);
  stop(app);
}

BOOST_AUTO_TEST_CASE(a_metrics_file_is_written_at_exit) {
  auto file = std::filesystem::temp_directory_path() /
              ("metrics_test." + std::to_string(::getpid()) + ".prom");
  std::string said =
      output_of(self_path() + " --scenario metrics_calls_then_exit --rpc-metrics-file " +
                file.string() + " 2>&1; echo \"status $?\"");
  BOOST_TEST(contains(said, "status 0"), said);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(file);
  auto [status, checked] = promtool(text);
  BOOST_TEST(status == 0, checked);
  auto s = samples(text);
  BOOST_TEST(s["rpc_parallel_calls_total{" + echo + ",outcome=\"ok\"}"] == 7);
  BOOST_TEST(s["rpc_parallel_calls_total{" + fail + ",outcome=\"error\"}"] == 3);
  BOOST_TEST(s["rpc_parallel_map_items_total{outcome=\"done\"}"] == 100);
}

BOOST_AUTO_TEST_CASE(a_busy_port_is_refused_saying_what_to_change) {
  asio::io_context io;
  asio::ip::tcp::acceptor taken(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::string port = std::to_string(taken.local_endpoint().port());
  std::string said = output_of(self_path() + " --scenario metrics_calls --rpc-metrics-port " +
                               port + " 2>&1; echo \"status $?\"");
  BOOST_TEST(contains(said, "cannot serve metrics on 127.0.0.1:" + port), said);
  BOOST_TEST(contains(said, "choose another --rpc-metrics-port"), said);
  BOOST_TEST(contains(said, "status 2"), said);
}

BOOST_AUTO_TEST_CASE(without_metrics_no_process_counts) {
  running_app app = start({});
  BOOST_TEST(app.url.empty(), app.url);
  std::string json =
      output_of(self_path() + " --rpc-status --json " + std::to_string(app.master.pid));
  BOOST_TEST(!contains(json, "\"metrics\""), json);
  stop(app);
}

BOOST_AUTO_TEST_SUITE_END()
