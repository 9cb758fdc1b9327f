// Workers that join a running master by themselves (`--rpc-join`): a map-reduce that has no
// other worker runs on the one that joins, a wrong secret is refused and logged, a joiner finds
// no master in time and says what it waited for.
#include "support/child_process.hpp"
#include "support/test_app.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

bool has(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& line : lines)
    if (line.find(part) != std::string::npos) return true;
  return false;
}

std::string line_starting(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& line : lines)
    if (line.rfind(prefix, 0) == 0) return line;
  return {};
}

std::vector<std::string> all_output(const tests::child& c, std::chrono::seconds deadline) {
  return tests::read_lines_until(c.stdout_fd, "\n(never printed)", deadline);
}

/// A private directory for the rendezvous and secret files.
struct scratch {
  std::string dir;
  scratch() {
    char name[] = "/tmp/rpcp-join-XXXXXX";
    dir = ::mkdtemp(name);
  }
  ~scratch() { std::filesystem::remove_all(dir); }
};

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::fchmod(fd, mode);
  ::close(fd);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(join_suite)

BOOST_AUTO_TEST_CASE(a_joined_worker_runs_a_map_reduce_and_a_wrong_secret_is_refused) {
  scratch files;
  ::setenv("RPCP_SCENARIO_DIR", files.dir.c_str(), 1);
  tests::child master = tests::launch(tests::self_path(), "map_with_joins", true);
  auto lines = tests::read_lines_until(master.stdout_fd, "ready", 30s);
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE_EQUAL(lines.back(), "ready");
  std::string address = line_starting(lines, "join ").substr(5);
  BOOST_REQUIRE(!address.empty());

  // The secret files are private: one others may read is refused before any connection.
  std::string wrong = files.dir + "/wrong";
  write_file(wrong, std::string(64, 'a') + "\n", 0644);
  tests::child careless =
      tests::launch({tests::self_path(), "--rpc-join", address, "--rpc-secret-file", wrong}, true);
  auto said = all_output(careless, 30s);
  BOOST_TEST(tests::reap_within_status(careless.pid, 10s) == 2);
  BOOST_TEST(has(said, "may be read by other users"));

  // A secret that is not the master's: refused by the master, which logs it.
  ::chmod(wrong.c_str(), 0600);
  tests::child intruder =
      tests::launch({tests::self_path(), "--rpc-join", address, "--rpc-secret-file", wrong}, true);
  said = all_output(intruder, 30s);
  BOOST_TEST(tests::reap_within_status(intruder.pid, 10s) == 2);
  BOOST_TEST(has(said, "refused this worker"), "its message names no refusal");
  BOOST_TEST(has(said, "its secret is not this one"));

  // The right secret, from the rendezvous file: the map-reduce runs on it, and only on it.
  tests::child joiner =
      tests::launch({tests::self_path(), "--rpc-join", files.dir + "/rendezvous"}, true);
  auto rest = all_output(master, 60s);
  BOOST_TEST(tests::reap_within_status(master.pid, 10s) == 0);
  BOOST_TEST(has(rest, "[rpc_parallel] refused a connection from"), "the master logged nothing");
  BOOST_TEST(line_starting(rest, "sum ") == "sum 499500");  // 0 + ... + 999, each once
  BOOST_TEST(line_starting(rest, "pids") == "pids " + std::to_string(joiner.pid));
  // Its master gone, the joiner ends too; and the master removed its rendezvous file.
  BOOST_TEST(tests::reap_within_status(joiner.pid, 10s) == 0);
  BOOST_TEST(!std::filesystem::exists(files.dir + "/rendezvous"));
}

BOOST_AUTO_TEST_CASE(a_symmetric_copy_with_no_master_says_what_it_waited_for) {
  scratch files;
  std::string rendezvous = files.dir + "/never-written";
  tests::child copy = tests::launch(
      {tests::self_path(), "--scenario", "symmetric_map", "--rpc-rank", "2", "--rpc-size", "4",
       "--rpc-rendezvous", rendezvous, "--rpc-join-timeout-ms", "300"},
      true);
  auto said = all_output(copy, 30s);
  BOOST_TEST(tests::reap_within_status(copy.pid, 10s) == 2);
  BOOST_REQUIRE(!said.empty());
  BOOST_TEST(has(said, "rank 2 of 4 waited 300 ms for the master's rendezvous file " + rendezvous),
             said.back());
}

BOOST_AUTO_TEST_SUITE_END()
