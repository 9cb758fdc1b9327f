// Worker lifetime against real process deaths: no orphans, no zombies, busy is not dead.
#include "support/child_process.hpp"
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <filesystem>
#include <fstream>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::echo_worker;
using tests::unit;

namespace {

using tests::child;
using tests::launch;
using tests::read_lines_until;
using tests::reap_within;
using tests::reap_within_status;

/// Starts scenario `name` as a master and returns what it printed up to its "ready" line.
std::vector<std::string> start_until_ready(child& master, const std::string& scenario) {
  master = launch(tests::self_path(), scenario);
  auto lines = read_lines_until(master.stdout_fd, "ready", 60s);
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE_EQUAL(lines.back(), "ready");
  return lines;
}

/// The numbers after `prefix` on the lines that start with it.
std::vector<pid_t> pids_after(const std::vector<std::string>& lines, const std::string& prefix) {
  std::vector<pid_t> pids;
  for (auto& line : lines)
    if (line.rfind(prefix, 0) == 0) pids.push_back(std::stoi(line.substr(prefix.size())));
  return pids;
}

/// SIGKILLs `master`, then expects each of `workers` (our children: we are their subreaper) to
/// have exited within the heartbeat timeout and a second.
void kill_master_and_expect_workers_gone(child& master, const std::vector<pid_t>& workers) {
  ::kill(master.pid, SIGKILL);
  ::waitpid(master.pid, nullptr, 0);
  rp::rpc_settings defaults;
  for (pid_t pid : workers)
    BOOST_TEST(reap_within(pid, defaults.heartbeat_timeout + 1s),
               "worker " << pid << " outlived its master");
  ::close(master.stdout_fd);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lifetime_suite)

BOOST_AUTO_TEST_CASE(master_killed_by_sigkill_leaves_no_worker_and_no_zombie) {
  // As subreaper we inherit the daemonised workers, so we can wait for each one exactly.
  BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  child master;
  auto lines = start_until_ready(master, "spawn_and_hang");
  std::vector<pid_t> workers = pids_after(lines, "pid ");
  std::vector<pid_t> immortals = pids_after(lines, "immortal ");
  BOOST_REQUIRE_EQUAL(workers.size(), 5u);  // heartbeater, connection_closed, a chain of three
  BOOST_REQUIRE_EQUAL(immortals.size(), 1u);
  pid_t immortal = immortals.front();
  kill_master_and_expect_workers_gone(master, workers);
  // shutdown_on::called_shutdown_function outlives its master by design; end it here.
  BOOST_TEST(tests::process_state(immortal) != 0);
  ::kill(immortal, SIGKILL);
  BOOST_TEST(reap_within(immortal, 5s));
  BOOST_TEST(tests::zombie_children().empty());
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

BOOST_AUTO_TEST_CASE(master_killed_while_its_workers_are_inside_plain_functions_leaves_none) {
  BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  child master;
  std::vector<pid_t> workers = pids_after(start_until_ready(master, "spawn_busy_and_hang"), "pid ");
  BOOST_REQUIRE_EQUAL(workers.size(), 8u);
  // Each is 30 s into nothing but computing: only its guardian thread can see the master go.
  kill_master_and_expect_workers_gone(master, workers);
  BOOST_TEST(tests::zombie_children().empty());
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

BOOST_AUTO_TEST_CASE(busy_worker_is_still_alive_after_several_heartbeat_timeouts) {
  rp::rpc_settings quick;
  quick.heartbeat_interval = 1s;
  quick.heartbeat_timeout = 2s;
  tests::run(
      []() -> asio::awaitable<void> {
        auto owned = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                     rp::spawn_options(), "busy");
        std::int64_t spins = co_await owned.run(echo_worker::busy, 5000);
        BOOST_TEST(spins > 0);
        std::string after = co_await owned.run(echo_worker::echo, "still here");
        BOOST_TEST(after == "busy:still here");
      },
      60s, quick);
}

BOOST_AUTO_TEST_CASE(master_that_is_pid_1_leaves_no_zombies) {
  // As a container's entrypoint: PID 1 of a new pid namespace, with its own /proc.
  child master = launch({"unshare", "--pid", "--fork", "--mount-proc", tests::self_path(),
                         "--scenario", "spawn_cycles_through_app"});
  auto lines = read_lines_until(master.stdout_fd, "done", 120s);
  int status = 0;
  ::waitpid(master.pid, &status, 0);
  ::close(master.stdout_fd);
  BOOST_REQUIRE_MESSAGE(!lines.empty() && lines.back() == "done",
                        "the scenario did not finish (unshare exit status " << status << ")");
  std::string report = lines.size() >= 2 ? lines[lines.size() - 2] : "";
  std::string zombies;  // what each one left is (command, parent), when any is
  for (const auto& line : lines)
    if (line.starts_with("zombie ")) zombies += "\n" + line;
  BOOST_TEST(report == "cycles 300 zombies 0", zombies);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(a_pid_1_master_gets_the_signals_sent_to_pid_1_and_exits_with_their_status) {
  child unshared = launch({"unshare", "--pid", "--fork", "--mount-proc", tests::self_path(),
                           "--scenario", "hang_through_app"});
  auto lines = read_lines_until(unshared.stdout_fd, "ready", 60s);
  BOOST_REQUIRE(!lines.empty() && lines.back() == "ready");
  // PID 1 of the new namespace is unshare's only child.
  std::ifstream children("/proc/" + std::to_string(unshared.pid) + "/task/" +
                         std::to_string(unshared.pid) + "/children");
  pid_t init = 0;
  BOOST_REQUIRE(children >> init);
  // PID 1 has no default action for SIGTERM: only forwarding it ends the master.
  ::kill(init, SIGTERM);
  int status = reap_within_status(unshared.pid, 10s);
  if (status < 0) {
    ::kill(init, SIGKILL);  // ends the whole namespace, so that no test process is left behind
    ::waitpid(unshared.pid, nullptr, 0);
  }
  ::close(unshared.stdout_fd);
  BOOST_TEST(status == 128 + SIGTERM);
}

BOOST_AUTO_TEST_CASE(renamed_running_binary_still_spawns) {
  auto dir = std::filesystem::temp_directory_path() / ("rpcp-rename-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto copy = dir / "test_copy";
  std::filesystem::copy_file(tests::self_path(), copy);
  child master = launch(copy.string(), "rename_and_spawn");
  auto lines = read_lines_until(master.stdout_fd, "Ok.", 60s);
  int status = 0;
  ::waitpid(master.pid, &status, 0);
  ::close(master.stdout_fd);
  BOOST_TEST(!lines.empty());
  BOOST_TEST((lines.empty() ? std::string() : lines.back()) == "Ok.");
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
