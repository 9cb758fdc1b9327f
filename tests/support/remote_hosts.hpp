// The real sshd test hosts (remote/test_hosts) as the remote test binaries use them: a global
// fixture that starts three for the whole binary, ssh options to reach them, and helpers.
#pragma once

#include "support/test_workers.hpp"

#include <rpc_parallel/remote.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tests {

/// Where setup.sh keeps this binary's hosts: /run/rpcp-test-hosts-<binary>.
const std::string& hosts_dir();

/// Starts three sshd hosts, and stops them when destroyed.
struct test_hosts {
  std::vector<std::string> names;
  std::string mode;  ///< "namespaces" or "loopback"
  test_hosts();
  ~test_hosts();
};

/// The hosts of the running binary, while its global fixture lives.
extern test_hosts* hosts;

/// Use as `BOOST_TEST_GLOBAL_FIXTURE(hosts_fixture);` after `using namespace tests;`.
struct hosts_fixture {
  test_hosts instance;
  hosts_fixture() { hosts = &instance; }
  ~hosts_fixture() { hosts = nullptr; }
};

/// ssh options that reach the hosts (their ssh_config).
rpc_parallel::ssh_options ssh();
/// This binary copied to the host's own /tmp (once: later copies find it there). Not the build
/// path: a host need not see this machine's files.
boost::asio::awaitable<rpc_parallel::copied_executable> on(std::string host);
/// A one-line file setup.sh wrote for tests (noexec_dir, ...), without its newline.
std::string state_file(const std::string& name);
/// What `command` prints on `host` (run by the shell there), without the final newline.
std::string output_on(const std::string& host, const std::string& command);
/// The hosts with a key none of them accepts (and no multiplexing, which would skip the check).
rpc_parallel::ssh_options wrong_key_ssh();
/// The hosts under `policy` with `known_hosts` as the only known-hosts file (no multiplexing).
rpc_parallel::ssh_options known_hosts_ssh(rpc_parallel::ssh_options::host_key_policy policy,
                                          std::string known_hosts);
bool contains(const std::string& text, const std::string& part);

/// Spawns an echo worker labelled `label` from `executable` into `slot` (which outlives it).
boost::asio::awaitable<void> spawn_into(rpc_parallel::remote_executable executable,
                                        std::string label,
                                        std::optional<rpc_parallel::connection<echo_worker>>& slot);

struct answers {
  std::string echoed;
  std::string hostname;
  std::int64_t pid = 0;
};
/// The calls that show which worker answers and where it runs (`conn` and `out` outlive it).
boost::asio::awaitable<void> ask(rpc_parallel::connection<echo_worker>& conn, answers& out);

/// Runs `tasks` at once; rethrows the first failure once all have finished.
boost::asio::awaitable<void> all_at_once(std::vector<boost::asio::awaitable<void>> tasks);

}  // namespace tests
