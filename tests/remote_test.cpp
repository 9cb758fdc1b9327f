// Workers on real sshd hosts (remote/test_hosts), spawned over ssh.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/remote.hpp>

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::echo_worker;

namespace {

const std::string hosts_dir = "/run/rpcp-test-hosts-remote-test";

// The repository, found from this binary's path (bin/tests/<toolset>/<variant>/.../remote_test).
std::filesystem::path repository() {
  if (const char* dir = std::getenv("RPCP_SOURCE_DIR")) return dir;
  auto path = std::filesystem::path(tests::self_path()).parent_path();
  while (!path.empty() && path != path.root_path() && !std::filesystem::exists(path / "Jamroot"))
    path = path.parent_path();
  return path;
}

// Starts three sshd hosts for the whole binary, and stops them after.
struct test_hosts {
  std::vector<std::string> names;
  std::string mode;

  test_hosts() {
    auto scripts = repository() / "remote" / "test_hosts";
    std::string command = "RPCP_TEST_HOSTS_DIR=" + hosts_dir + " " + (scripts / "setup.sh").string() +
                          " 3 > " + hosts_dir + ".list";
    BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, "remote/test_hosts/setup.sh failed");
    std::ifstream list(hosts_dir + ".list");
    for (std::string name; std::getline(list, name);) names.push_back(name);
    std::ifstream(hosts_dir + "/mode") >> mode;
  }
  ~test_hosts() {
    auto scripts = repository() / "remote" / "test_hosts";
    std::string command = "RPCP_TEST_HOSTS_DIR=" + hosts_dir + " " + (scripts / "teardown.sh").string();
    (void)std::system(command.c_str());
    std::filesystem::remove(hosts_dir + ".list");
  }
};

test_hosts* hosts = nullptr;

struct hosts_fixture {
  test_hosts instance;
  hosts_fixture() { hosts = &instance; }
  ~hosts_fixture() { hosts = nullptr; }
};

rp::ssh_options ssh() { return rp::ssh_options().with_config_file(hosts_dir + "/ssh_config"); }

// This binary copied to the host's own /tmp (once: later copies find it there). Not the build
// path: a host need not see this machine's files (a clone under /tmp, say).
asio::awaitable<rp::remote_executable> on(std::string host) {
  auto copy = co_await rp::copy_to_host(std::move(host), rp::copy_options().with_ssh(ssh()));
  co_return copy;
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(hosts_fixture);

BOOST_AUTO_TEST_SUITE(remote_suite)

BOOST_AUTO_TEST_CASE(a_worker_on_each_host_answers_and_runs_there) {
  BOOST_REQUIRE_EQUAL(hosts->names.size(), 3u);
  tests::run([]() -> asio::awaitable<void> {
    for (const auto& host : hosts->names) {
      auto executable = co_await on(host);
      auto options = rp::spawn_options().with_name("on-" + host).with_how(rp::how_to_run::remote(executable));
      auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                  std::move(options), host);
      std::string echoed = co_await conn.run(echo_worker::echo, "hi");
      BOOST_TEST(echoed == host + ":hi");
      std::string where = co_await conn.run(echo_worker::hostname);
      if (hosts->mode == "namespaces") BOOST_TEST(where == host);
      std::string user = co_await conn.run(echo_worker::getenv, "USER");
      BOOST_TEST(user == "rpcptest");
    }
  }, 120s);
}

BOOST_AUTO_TEST_CASE(env_values_reach_a_remote_worker_exactly) {
  tests::run([]() -> asio::awaitable<void> {
    const std::string tricky = R"(potentially "problematic" \"test\" string ()! $HOME `x` 'q' ;|&)";
    auto executable = co_await on(hosts->names.at(0));
    auto options = rp::spawn_options()
                       .with_env("TEST_ENV_KEY", tricky)
                       .with_how(rp::how_to_run::remote(executable));
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                std::move(options), "env");
    std::string value = co_await conn.run(echo_worker::getenv, "TEST_ENV_KEY");
    BOOST_TEST(value == tricky);
    std::string marker = co_await conn.run(echo_worker::getenv, "RPC_PARALLEL_IS_WORKER");
    BOOST_TEST(marker == "<none>");
  }, 60s);
}

BOOST_AUTO_TEST_CASE(copy_to_host_uploads_once_runs_and_removes) {
  const std::string host = hosts->names.at(1);
  tests::run([host]() -> asio::awaitable<void> {
    auto earlier = co_await on(host);  // other tests may have copied it already: start afresh
    co_await rp::remove(earlier);
    auto copy = co_await rp::copy_to_host(host, rp::copy_options().with_ssh(ssh()));
    BOOST_TEST(copy.uploaded());
    BOOST_TEST(copy.deletable());
    BOOST_TEST(copy.path().rfind("/tmp/remote_test.", 0) == 0);
    auto conn = co_await rp::spawn<echo_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options().with_how(rp::how_to_run::remote(copy)),
        "copied");
    std::string echoed = co_await conn.run(echo_worker::echo, "ping");
    BOOST_TEST(echoed == "copied:ping");
    auto again = co_await rp::copy_to_host(host, rp::copy_options().with_ssh(ssh()));
    BOOST_TEST(!again.uploaded());  // content-addressed: the host already has it
    BOOST_TEST(again.path() == copy.path());

    co_await rp::remove(copy);
    auto gone = co_await rp::try_spawn<echo_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options().with_how(rp::how_to_run::remote(copy)),
        std::string("x"));
    BOOST_REQUIRE(gone.has_error());
    // The relayed start-up stderr says why.
    BOOST_TEST(gone.error().message.find("No such file or directory") != std::string::npos);
    bool refused = false;
    try {
      co_await rp::remove(rp::remote_executable::existing_on_host(host, copy.path(), ssh()));
    } catch (const rp::rpc_error& e) {
      refused = std::string(e.what()).find("only copies made by copy_to_host") != std::string::npos;
    }
    BOOST_TEST(refused);
  }, 120s);
}

BOOST_AUTO_TEST_CASE(a_different_remote_binary_is_refused_with_the_exact_error) {
  const std::string host = hosts->names.at(0);
  tests::run([host]() -> asio::awaitable<void> {
    // A copy in the host's own /tmp with one byte more.
    auto good = co_await on(host);
    std::string command = "ssh -F " + hosts_dir + "/ssh_config " + host + " 'cp " + good.path() +
                          " /tmp/tampered && echo 0 >> /tmp/tampered'";
    BOOST_REQUIRE(std::system(command.c_str()) == 0);
    auto tampered = rp::remote_executable::existing_on_host(host, "/tmp/tampered", ssh());
    auto result = co_await rp::try_spawn<echo_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options().with_how(rp::how_to_run::remote(tampered)),
        std::string("x"));
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().message.find("the remote executable " + host +
                                          ":/tmp/tampered does not match the local executable") !=
               std::string::npos);
  }, 60s);
}

BOOST_AUTO_TEST_CASE(an_unreachable_host_fails_with_a_clear_error) {
  tests::run([]() -> asio::awaitable<void> {
    auto nowhere = rp::remote_executable::existing_on_host(
        "10.200.0.250", tests::self_path(),
        rp::ssh_options().with_config_file(hosts_dir + "/ssh_config").with_port(22));
    auto options = rp::spawn_options().with_how(rp::how_to_run::remote(nowhere));
    auto result = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                      std::move(options), std::string("x"));
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().message.find("10.200.0.250") != std::string::npos);
  }, 60s);
}

BOOST_AUTO_TEST_CASE(master_killed_by_sigkill_leaves_no_remote_worker) {
  // A master of its own (this binary in scenario mode), so that it can be killed.
  std::string list;
  for (const auto& host : hosts->names) list += host + " ";
  ::setenv("RPCP_SCENARIO_HOSTS", list.c_str(), 1);
  ::setenv("RPCP_SCENARIO_SSH_CONFIG", (hosts_dir + "/ssh_config").c_str(), 1);
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  pid_t master = ::fork();
  if (master == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::string self = tests::self_path();
    ::execl(self.c_str(), self.c_str(), "--scenario", "remote_spawn_and_hang", nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  std::vector<pid_t> workers;
  {
    FILE* lines = ::fdopen(out[0], "r");
    char line[256];
    while (std::fgets(line, sizeof line, lines)) {
      std::string text(line);
      if (text.rfind("pid ", 0) == 0) workers.push_back(std::stoi(text.substr(4)));
      if (text == "ready\n") break;
    }
    ::kill(master, SIGKILL);
    ::waitpid(master, nullptr, 0);
    std::fclose(lines);
  }
  BOOST_REQUIRE_EQUAL(workers.size(), 2 * hosts->names.size());
  rp::rpc_settings defaults;
  for (pid_t pid : workers)  // same PID namespace: the hosts' processes are visible here
    BOOST_TEST(tests::wait_until_exited(pid, defaults.heartbeat_timeout + 1s),
               "remote worker " << pid << " outlived its master");
}

BOOST_AUTO_TEST_SUITE_END()
