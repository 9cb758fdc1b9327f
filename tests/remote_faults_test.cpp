// Remote spawns that cannot work, each failing fast with an error that names the host and the
// cause: a different binary, an unreachable host, a refused key, an unknown host key, a noexec
// directory, a wrong dial-back address; and a remote worker killed while it serves, whose
// death report names its host and the signal.
#include "rpc_parallel/detail/progress_bar.hpp"
#include "rpc_parallel/map_reduce.hpp"

#include "support/remote_hosts.hpp"
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ranges>

#include <signal.h>
#include <unistd.h>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace tests;
using namespace boost::asio::experimental::awaitable_operators;

BOOST_TEST_GLOBAL_FIXTURE(hosts_fixture);

namespace {
/// The bridge port of test host `host` (rpcp-hN is on rpcpvN): taken down, it cuts the host off.
std::string bridge_port_of(const std::string& host) {
  return "rpcpv" + host.substr(host.find_last_of('h') + 1);
}

/// Heartbeats that find a host cut off within about a second.
rp::rpc_settings quick_heartbeats() {
  rp::rpc_settings quick;
  quick.heartbeat_interval = 250ms;
  quick.heartbeat_timeout = 1s;
  return quick;
}

asio::awaitable<void> send_signal(pid_t pid, int signal) {
  BOOST_REQUIRE(::kill(pid, signal) == 0);
  co_return;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(remote_faults_suite)

BOOST_AUTO_TEST_CASE(a_different_remote_binary_is_refused_with_the_exact_error) {
  const std::string host = hosts->names.at(0);
  tests::run(
      [host]() -> asio::awaitable<void> {
        // A copy in the host's own /tmp with one byte more.
        auto good = co_await on(host);
        std::string command = "ssh -F " + hosts_dir() + "/ssh_config " + host + " 'cp " +
                              good.path() + " /tmp/tampered && echo 0 >> /tmp/tampered'";
        BOOST_REQUIRE(std::system(command.c_str()) == 0);
        auto tampered = rp::remote_executable::existing_on_host(host, "/tmp/tampered", ssh());
        auto result = co_await rp::try_spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(tampered)), std::string("x"));
        BOOST_REQUIRE(result.has_error());
        BOOST_TEST(result.error().message.find(
                       "the remote executable " + host +
                       ":/tmp/tampered does not match the local executable") != std::string::npos);
      },
      60s);
}

BOOST_AUTO_TEST_CASE(an_unreachable_host_fails_with_a_clear_error) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto nowhere = rp::remote_executable::existing_on_host(
            "10.200.0.250", tests::self_path(),
            rp::ssh_options().with_config_file(hosts_dir() + "/ssh_config").with_port(22));
        auto options = rp::spawn_options().with_how(rp::how_to_run::remote(nowhere));
        auto result = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                          std::move(options), std::string("x"));
        BOOST_REQUIRE(result.has_error());
        BOOST_TEST(result.error().message.find("10.200.0.250") != std::string::npos);
      },
      60s);
}

namespace {

// With `refused`, both copying to `host` and spawning a copy that is there (put with the right
// options) fail within the connect timeout, naming the host and ssh's `reason`.
asio::awaitable<void> expect_refused(std::string host, rp::ssh_options refused,
                                     std::string reason) {
  auto started = std::chrono::steady_clock::now();
  std::string copy_error;
  try {
    co_await rp::copy_to_host(host, rp::copy_options().with_ssh(refused));
  } catch (const rp::rpc_error& e) {
    copy_error = e.what();
  }
  auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST_MESSAGE("copy_to_host refused: " << copy_error);
  BOOST_TEST(contains(copy_error, host));
  BOOST_TEST(contains(copy_error, reason));
  BOOST_TEST((took < refused.connect_timeout));

  auto good = co_await on(host);
  auto named = rp::remote_executable::existing_on_host(host, good.path(), refused);
  started = std::chrono::steady_clock::now();
  auto result = co_await rp::try_spawn<echo_worker>(
      rp::shutdown_on::connection_closed,
      rp::spawn_options().with_how(rp::how_to_run::remote(named)), std::string("x"));
  took = std::chrono::steady_clock::now() - started;
  BOOST_REQUIRE(result.has_error());
  BOOST_TEST_MESSAGE("spawn refused: " << result.error().message);
  BOOST_TEST(contains(result.error().message, host));
  BOOST_TEST(contains(result.error().message, reason));
  BOOST_TEST((took < refused.connect_timeout));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_refused_key_fails_with_ssh_reason_within_the_connect_timeout) {
  const std::string host = hosts->names.at(0);
  tests::run(
      [host]() -> asio::awaitable<void> {
        co_await expect_refused(host, wrong_key_ssh(), "Permission denied");
      },
      60s);
}

BOOST_AUTO_TEST_CASE(an_unknown_host_key_under_policy_yes_fails_at_once_without_a_prompt) {
  const std::string host = hosts->names.at(1);
  tests::run(
      [host]() -> asio::awaitable<void> {
        const std::string empty = hosts_dir() + "/known_hosts_empty";
        { std::ofstream create(empty); }
        co_await expect_refused(host, known_hosts_ssh(rp::ssh_options::host_key_policy::yes, empty),
                                "Host key verification failed");

        // The policy is the cause: accept_new, with a known-hosts file of its own, gets in and
        // records the key.
        const std::string fresh = hosts_dir() + "/known_hosts_fresh";
        { std::ofstream create(fresh); }
        auto accepting = known_hosts_ssh(rp::ssh_options::host_key_policy::accept_new, fresh);
        auto copy = co_await rp::copy_to_host(host, rp::copy_options().with_ssh(accepting));
        BOOST_TEST(!copy.uploaded());
        BOOST_TEST(std::filesystem::file_size(fresh) > 0u);
      },
      60s);
}

BOOST_AUTO_TEST_CASE(a_copy_in_a_noexec_directory_is_refused_with_the_reason) {
  const std::string host = hosts->names.at(1);
  tests::run(
      [host]() -> asio::awaitable<void> {
        const std::string noexec = state_file("noexec_dir");
        BOOST_REQUIRE(!noexec.empty());
        auto copy =
            co_await rp::copy_to_host(host, rp::copy_options().with_dir(noexec).with_ssh(ssh()));
        BOOST_TEST(copy.path().rfind(noexec + "/", 0) == 0);
        auto result = co_await rp::try_spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(copy)), std::string("x"));
        co_await rp::remove(copy);
        BOOST_REQUIRE(result.has_error());
        const std::string& message = result.error().message;
        BOOST_TEST_MESSAGE("spawn from a noexec directory: " << message);
        BOOST_TEST(contains(message, "cannot execute"));
        BOOST_TEST(contains(message, "noexec"));
        BOOST_TEST(contains(message, host + ":" + copy.path()));
      },
      60s);
}

BOOST_AUTO_TEST_CASE(the_dial_back_address_can_be_given_and_a_wrong_one_fails_clearly) {
  tests::run(
      []() -> asio::awaitable<void> {
        const std::string host = hosts->names[1];
        std::string address = hosts->mode == "namespaces" ? "10.200.0.1" : "127.0.0.1";
        auto copy = co_await rp::copy_to_host(
            host, rp::copy_options().with_ssh(ssh().with_dial_back_address(address)));
        auto options =
            rp::spawn_options().with_name("dialer").with_how(rp::how_to_run::remote(copy));
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    std::move(options), std::string("d"));
        std::string echoed = co_await conn.run(echo_worker::echo, "back");
        BOOST_TEST(echoed == "d:back");
        // A wrong address: the worker cannot register, and says which address it tried. (Only
        // where hosts are namespaces: on loopback every local address reaches this master.)
        if (hosts->mode != "namespaces") co_return;
        auto wrong = rp::remote_executable::existing_on_host(
            host, copy.path(), ssh().with_dial_back_address("127.0.0.2"));
        auto bad = rp::spawn_options()
                       .with_name("lost")
                       .with_how(rp::how_to_run::remote(wrong))
                       .with_connection_timeout(5s);
        auto start = std::chrono::steady_clock::now();
        auto failed = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                          std::move(bad), std::string("x"));
        BOOST_REQUIRE(failed.has_error());
        BOOST_TEST((std::chrono::steady_clock::now() - start < 15s));
        BOOST_TEST(contains(failed.error().message, "127.0.0.2"), failed.error().message);
      },
      120s);
}

BOOST_AUTO_TEST_CASE(a_host_cut_off_mid_call_is_declared_dead_within_the_heartbeat_timeout) {
  // Its bridge port is taken down: nothing the master sends is acknowledged any more, which no
  // FIN or RST will say (only the guardian's check of the acknowledgements can).
  BOOST_REQUIRE_MESSAGE(hosts->mode == "namespaces", "needs the test hosts in network namespaces");
  const std::string host = hosts->names.at(2);
  const std::string port = bridge_port_of(host);
  tests::run(
      [host, port]() -> asio::awaitable<void> {
        auto copy = co_await on(host);
        auto conn = co_await rp::spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(copy)), std::string("cut"));
        BOOST_TEST((co_await conn.run(echo_worker::echo, "before")) == "cut:before");
        BOOST_REQUIRE(std::system(("ip link set " + port + " down").c_str()) == 0);
        auto start = std::chrono::steady_clock::now();
        auto lost = co_await conn.try_run(echo_worker::echo, std::string(1 << 20, 'x'));
        auto took = std::chrono::steady_clock::now() - start;
        BOOST_REQUIRE(std::system(("ip link set " + port + " up").c_str()) == 0);
        BOOST_REQUIRE(lost.has_error());
        BOOST_TEST_MESSAGE(lost.error().message);
        BOOST_TEST(contains(lost.error().message, "no acknowledgement from its host"));
        // heartbeat_timeout, then two checks a heartbeat_interval apart, and slack for a loaded
        // machine.
        BOOST_TEST(took < 4s);
      },
      60s, quick_heartbeats());
}

BOOST_AUTO_TEST_CASE(a_host_cut_off_mid_map_is_excluded_and_the_call_completes) {
  BOOST_REQUIRE_MESSAGE(hosts->mode == "namespaces", "needs the test hosts in network namespaces");
  const std::string cut = hosts->names.at(2);
  const std::string port = bridge_port_of(cut);
  tests::run(
      [cut, port]() -> asio::awaitable<void> {
        rp::map_progress last;
        auto config =
            rp::map_config()
                .with_local(0)
                .with_batch_size(10)
                .with_supervision(rp::pool_options().with_host_exclusion_after(2))
                .with_worker_options(rp::spawn_options().with_on_failure([](const rp::error&) {}))
                .with_on_progress([&last](const rp::map_progress& p) { last = p; });
        for (std::size_t i = 0; i < 2; ++i) {
          auto copy = co_await on(hosts->names.at(i));
          config.add_remote(rp::how_to_run::remote(copy), 1);
        }
        auto doomed = co_await on(cut);  // two workers there, so that both deaths exclude it
        config.add_remote(rp::how_to_run::remote(doomed), 2);
        const std::int64_t items = 6000;
        std::vector<int> seen(items, 0);
        bool down = false;
        auto count = [&](std::uint64_t index, std::int64_t) {
          ++seen[index];
          if (!down && index >= 1000) {
            down = true;
            BOOST_REQUIRE(std::system(("ip link set " + port + " down").c_str()) == 0);
          }
        };
        auto done = co_await rp::try_map_unordered<tests::sleepy_pid>(
            std::move(config), std::views::iota(std::int64_t(0), items), rp::unit{}, count);
        BOOST_REQUIRE(std::system(("ip link set " + port + " up").c_str()) == 0);
        BOOST_REQUIRE_MESSAGE(done.has_value(), done.error().message);
        BOOST_TEST(down);
        BOOST_TEST(std::ranges::all_of(seen, [](int n) { return n == 1; }));
        BOOST_TEST((last.excluded_hosts == std::vector<std::string>{cut}));
        BOOST_TEST(contains(rp::detail::progress_line(last, true), "excluded: " + cut));
      },
      120s, quick_heartbeats());
}

BOOST_AUTO_TEST_CASE(a_remote_worker_killed_by_a_signal_is_reported_with_its_host_and_the_signal) {
  tests::run([]() -> asio::awaitable<void> {
    auto copy = co_await on(hosts->names.at(0));
    auto conn = co_await rp::spawn<echo_worker>(
        rp::shutdown_on::connection_closed,
        rp::spawn_options().with_name("terminated").with_how(rp::how_to_run::remote(copy)),
        std::string("t"));
    auto pid = static_cast<pid_t>(co_await conn.run(echo_worker::pid));
    // The call is on its way when the signal is sent (from here: the hosts share this
    // machine's process ids).
    auto call = conn.try_run(echo_worker::sleep_async, 10'000);
    auto signal = send_signal(pid, SIGHUP);  // SIGTERM would make it leave gracefully
    auto lost = co_await (std::move(call) && std::move(signal));
    BOOST_REQUIRE(lost.has_error());
    const std::string& text = lost.error().message;
    BOOST_TEST_MESSAGE(text);
    BOOST_TEST(contains(text, "at " + conn.peer().host() + ":"), text);
    BOOST_TEST(contains(text, "the worker process " + std::to_string(pid) +
                                  " died: killed by SIGHUP (Hangup), sent by process " +
                                  std::to_string(::getpid())),
               text);
  });
}

// A firewall inside `host`'s namespace that rejects every connection the host opens to the
// outside (its loopback and the connections made to it, sshd's, still work), for its life.
struct outbound_firewall {
  std::string host;
  explicit outbound_firewall(std::string h) : host(std::move(h)) {
    std::string in = "ip netns exec " + host + " nft ";
    BOOST_TEST_REQUIRE(std::system((in + "add table inet rpcp_fw").c_str()) == 0);
    BOOST_TEST_REQUIRE(std::system((in + "'add chain inet rpcp_fw out { type filter hook output "
                                         "priority 0; }'")
                                       .c_str()) == 0);
    BOOST_TEST_REQUIRE(std::system((in + "'add rule inet rpcp_fw out oifname != \"lo\" tcp flags "
                                         "& (syn | ack) == syn reject'")
                                       .c_str()) == 0);
  }
  ~outbound_firewall() {
    (void)std::system(("ip netns exec " + host + " nft delete table inet rpcp_fw").c_str());
  }
};

BOOST_AUTO_TEST_CASE(tunnel_mode_reaches_workers_that_cannot_dial_back) {
  BOOST_TEST_REQUIRE(hosts->mode == "namespaces");  // a firewall needs the host's own network
  const std::string host = hosts->names.at(2);
  tests::run(
      [&host]() -> asio::awaitable<void> {
        auto executable = co_await on(host);
        outbound_firewall firewall(host);
        // Without the tunnel the worker cannot reach us: the firewall is real.
        auto blocked =
            co_await rp::try_spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options()
                                                    .with_name("blocked")
                                                    .with_how(rp::how_to_run::remote(executable))
                                                    .with_connection_timeout(3s),
                                                "blocked");
        BOOST_REQUIRE(!blocked.has_value());
        BOOST_TEST(contains(blocked.error().message, "cannot reach the master"),
                   blocked.error().message);
        // Through the tunnel: the owner connection, and a second one this side opens.
        auto tunnelled =
            rp::remote_executable::existing_on_host(host, executable.path(), ssh().with_tunnel());
        auto how = rp::how_to_run::remote(tunnelled);
        auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options().with_how(how), "inside");
        BOOST_TEST(co_await conn.run(echo_worker::echo, "hi") == "inside:hi");
        BOOST_TEST(co_await conn.run(echo_worker::hostname) == host);
        auto served = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                                      rp::spawn_options().with_how(how), "served");
        auto second = co_await rp::connect(served);
        BOOST_TEST(co_await second.run(echo_worker::echo, "again") == "served:again");
        co_await second.run(echo_worker::pid);
        co_await rp::shutdown(served);
      },
      120s);
}

BOOST_AUTO_TEST_SUITE_END()
