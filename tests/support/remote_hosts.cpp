#include "support/remote_hosts.hpp"

#include "support/test_app.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tests {
namespace asio = boost::asio;
namespace rp = rpc_parallel;

const std::string& hosts_dir() {
  static const std::string dir =
      "/run/rpcp-test-hosts-" + std::filesystem::path(self_path()).filename().string();
  return dir;
}

test_hosts::test_hosts() {
  auto scripts = std::filesystem::path(repository_dir()) / "remote" / "test_hosts";
  std::string command = "RPCP_TEST_HOSTS_DIR=" + hosts_dir() + " " +
                        (scripts / "setup.sh").string() + " 3 > " + hosts_dir() + ".list";
  BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, "remote/test_hosts/setup.sh failed");
  std::ifstream list(hosts_dir() + ".list");
  for (std::string name; std::getline(list, name);) names.push_back(name);
  std::ifstream(hosts_dir() + "/mode") >> mode;
}

test_hosts::~test_hosts() {
  auto scripts = std::filesystem::path(repository_dir()) / "remote" / "test_hosts";
  std::string command =
      "RPCP_TEST_HOSTS_DIR=" + hosts_dir() + " " + (scripts / "teardown.sh").string();
  (void)std::system(command.c_str());
  std::filesystem::remove(hosts_dir() + ".list");
}

test_hosts* hosts = nullptr;

rp::ssh_options ssh() { return rp::ssh_options().with_config_file(hosts_dir() + "/ssh_config"); }

// This binary copied to the host's own /tmp (once: later copies find it there). Not the build
// path: a host need not see this machine's files (a clone under /tmp, say).
asio::awaitable<rp::copied_executable> on(std::string host) {
  auto copy = co_await rp::copy_to_host(std::move(host), rp::copy_options().with_ssh(ssh()));
  co_return copy;
}

// A one-line file setup.sh wrote for tests (noexec_dir, ...), without its newline.
std::string state_file(const std::string& name) {
  std::string line;
  std::getline(std::ifstream(hosts_dir() + "/" + name), line);
  return line;
}

// What `command` prints on `host` (run by the shell there), without the final newline.
std::string output_on(const std::string& host, const std::string& command) {
  return output_of("ssh -F " + hosts_dir() + "/ssh_config " + host + " '" + command + "'");
}

// The test hosts with a key none of them accepts: a copy of ssh_config without its
// IdentityFile lines (ssh adds those to `-i`, it does not replace them), the key given by `-i`,
// and no agent. No multiplexing: a connection kept from another test would skip authentication.
rp::ssh_options wrong_key_ssh() {
  std::string config = hosts_dir() + "/ssh_config_no_identity";
  {
    std::ifstream in(hosts_dir() + "/ssh_config");
    std::ofstream out(config);
    for (std::string line; std::getline(in, line);)
      if (line.find("IdentityFile") == std::string::npos) out << line << "\n";
  }
  auto options =
      rp::ssh_options().with_config_file(config).with_identity_file(hosts_dir() + "/wrong_key");
  options.extra = {"-o", "IdentitiesOnly=yes"};
  options.multiplex = false;
  return options;
}

// The test hosts under `policy` with `known_hosts` as the only known-hosts file. Command-line
// `-o` beats the config file's UserKnownHostsFile and StrictHostKeyChecking (ssh keeps the first
// value it reads, and reads the command line first). No multiplexing: a kept connection would
// skip the host key check.
rp::ssh_options known_hosts_ssh(rp::ssh_options::host_key_policy policy, std::string known_hosts) {
  auto options = ssh().with_host_keys(policy);
  options.extra = {"-o", "UserKnownHostsFile=" + known_hosts, "-o",
                   "GlobalKnownHostsFile=/dev/null"};
  options.multiplex = false;
  return options;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Spawns an echo worker labelled `label` from `executable` into `slot` (which outlives it: the
// caller's vector outlives the parallel group).
asio::awaitable<void> spawn_into(rp::remote_executable executable, std::string label,
                                 std::optional<rp::connection<echo_worker>>& slot) {
  auto options = rp::spawn_options().with_name(label).with_how(rp::how_to_run::remote(executable));
  auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                              std::move(options), label);
  slot.emplace(std::move(conn));
}

// The calls that show which worker answers, and where it runs (`conn` and `out` outlive it).
asio::awaitable<void> ask(rp::connection<echo_worker>& conn, answers& out) {
  out.echoed = co_await conn.run(echo_worker::echo, "hi");
  out.hostname = co_await conn.run(echo_worker::hostname);
  out.pid = co_await conn.run(echo_worker::pid);
}

// Runs `tasks` at once; rethrows the first failure once all have finished.
asio::awaitable<void> all_at_once(std::vector<asio::awaitable<void>> tasks) {
  auto executor = co_await asio::this_coro::executor;
  using task_op = decltype(asio::co_spawn(executor, std::move(tasks.front()), asio::deferred));
  std::vector<task_op> ops;
  for (auto& task : tasks) ops.push_back(asio::co_spawn(executor, std::move(task), asio::deferred));
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  auto done = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (const std::exception_ptr& e : std::get<1>(done))
    if (e) std::rethrow_exception(e);
}

}  // namespace tests
