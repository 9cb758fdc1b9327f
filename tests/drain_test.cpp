// A master interrupted mid-map (SIGTERM, SIGINT, Ctrl-C twice) ends cleanly: the batches in
// flight finish, it says how much was done, and no worker is left.
#include "support/child_process.hpp"
#include "support/test_app.hpp"

#include <rpc_parallel/rpc_settings.hpp>

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace rp = rpc_parallel;

namespace {

/// What a master printed from now until it closed its output (or `deadline` passed).
std::vector<std::string> rest_of_output(const tests::child& master, std::chrono::seconds deadline) {
  return tests::read_lines_until(master.stdout_fd, "\n(never printed)", deadline);
}

std::vector<pid_t> pids_in(const std::vector<std::string>& lines) {
  std::vector<pid_t> pids;
  for (const auto& line : lines)
    if (line.rfind("pid ", 0) == 0) pids.push_back(std::stoi(line.substr(4)));
  return pids;
}

bool any_line_has(const std::vector<std::string>& lines, const std::string& part) {
  return std::ranges::any_of(lines, [&](const auto& l) { return l.find(part) != l.npos; });
}

/// Each of `workers` (our children: we are their subreaper) exits within the heartbeat timeout
/// and a second.
void expect_gone(const std::vector<pid_t>& workers) {
  rp::rpc_settings defaults;
  for (pid_t pid : workers)
    BOOST_TEST(tests::reap_within(pid, defaults.heartbeat_timeout + 1s),
               "worker " << pid << " outlived its master");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(drain_suite)

BOOST_AUTO_TEST_CASE(sigterm_mid_map_finishes_the_batches_in_flight_and_says_how_much_was_done) {
  BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  tests::child master = tests::launch(tests::self_path(), "map_until_interrupted", true);
  auto lines = tests::read_lines_until(master.stdout_fd, "ready", 60s);
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE_EQUAL(lines.back(), "ready");
  auto sent = std::chrono::steady_clock::now();
  BOOST_REQUIRE(::kill(master.pid, SIGTERM) == 0);
  int status = tests::reap_within_status(master.pid, 10s);  // its grace is 60 s
  auto took = std::chrono::steady_clock::now() - sent;
  auto rest = rest_of_output(master, 5s);
  lines.insert(lines.end(), rest.begin(), rest.end());
  BOOST_TEST(status == 128 + SIGTERM);  // as if the signal had ended it
  BOOST_TEST((took < 5s));
  BOOST_TEST(any_line_has(lines, "SIGTERM: finishing the work in flight"));
  BOOST_TEST(any_line_has(lines, "map-reduce interrupted by SIGTERM: "));
  BOOST_TEST(any_line_has(lines, " items done (their results delivered)"));
  std::vector<pid_t> workers = pids_in(lines);
  BOOST_TEST(workers.size() >= 1u);
  expect_gone(workers);
  ::close(master.stdout_fd);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

BOOST_AUTO_TEST_CASE(a_second_sigint_exits_at_once_and_still_leaves_no_worker) {
  BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  // Its batches from item 200 on take 10 minutes an item: the drain would wait its grace.
  tests::child master = tests::launch(tests::self_path(), "map_stuck_until_interrupted", true);
  auto lines = tests::read_lines_until(master.stdout_fd, "ready", 60s);
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE_EQUAL(lines.back(), "ready");
  BOOST_REQUIRE(::kill(master.pid, SIGINT) == 0);
  auto heard = tests::read_lines_until(
      master.stdout_fd,
      "[rpc_parallel] SIGINT: finishing the work in flight (send it again to exit at once)", 10s);
  BOOST_REQUIRE(!heard.empty());
  lines.insert(lines.end(), heard.begin(), heard.end());
  BOOST_REQUIRE(::kill(master.pid, SIGINT) == 0);
  int status = tests::reap_within_status(master.pid, 5s);
  BOOST_TEST(status == 128 + SIGINT);
  auto rest = rest_of_output(master, 5s);
  lines.insert(lines.end(), rest.begin(), rest.end());
  BOOST_TEST(any_line_has(lines, "SIGINT again: exiting at once"));
  expect_gone(pids_in(lines));
  ::close(master.stdout_fd);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

BOOST_AUTO_TEST_SUITE_END()
