// Workers on real sshd hosts (remote/test_hosts), spawned over ssh: copying, running, output,
// concurrency, map-reduce and master death. Failures to connect are in remote_faults_test.cpp.
#include "support/remote_hosts.hpp"
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/detail/same_host.hpp>
#include <rpc_parallel/remote.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <ranges>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace tests;

namespace {
// For tests that start many workers at once: on 2 cores, under ASan and UBSan, twenty workers
// starting together may need more than the default 10 s for their handshakes. What these tests
// check (sessions per connection, concurrency) does not depend on that limit.
rp::rpc_settings patient_handshakes() {
  rp::rpc_settings s;
  s.handshake_timeout = 60s;
  return s;
}
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(hosts_fixture);

BOOST_AUTO_TEST_SUITE(remote_suite)

BOOST_AUTO_TEST_CASE(a_worker_on_each_host_answers_and_runs_there) {
  BOOST_REQUIRE_EQUAL(hosts->names.size(), 3u);
  tests::run(
      []() -> asio::awaitable<void> {
        for (const auto& host : hosts->names) {
          auto executable = co_await on(host);
          auto options = rp::spawn_options()
                             .with_name("on-" + host)
                             .with_how(rp::how_to_run::remote(executable));
          auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                      std::move(options), host);
          std::string echoed = co_await conn.run(echo_worker::echo, "hi");
          BOOST_TEST(echoed == host + ":hi");
          std::string where = co_await conn.run(echo_worker::hostname);
          if (hosts->mode == "namespaces") {
            BOOST_TEST(where == host);
            // Another network namespace: its same-host socket is not ours to dial; TCP it is.
            const rp::worker_ref& ref = conn.peer().ref();
            BOOST_TEST(!ref.same_host.empty());
            BOOST_TEST(!rp::detail::reachable_here(ref.same_host));
            auto direct = co_await rp::connect(conn.peer());
            std::string again = co_await direct.run(echo_worker::echo, "tcp");
            BOOST_TEST(again == host + ":tcp");
            BOOST_TEST(tcp_links_to_port(ref.port) == 1u);
          }
          std::string user = co_await conn.run(echo_worker::getenv, "USER");
          BOOST_TEST(user == "rpcptest");
        }
      },
      120s);
}

BOOST_AUTO_TEST_CASE(env_values_reach_a_remote_worker_exactly) {
  tests::run(
      []() -> asio::awaitable<void> {
        const std::string tricky =
            R"(potentially "problematic" \"test\" string ()! $HOME `x` 'q' ;|&)";
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
      },
      60s);
}

BOOST_AUTO_TEST_CASE(copy_to_host_uploads_once_runs_and_removes) {
  const std::string host = hosts->names.at(1);
  tests::run(
      [host]() -> asio::awaitable<void> {
        auto earlier = co_await on(host);  // other tests may have copied it already: start afresh
        co_await rp::remove(earlier);
        auto copy = co_await rp::copy_to_host(host, rp::copy_options().with_ssh(ssh()));
        BOOST_TEST(copy.uploaded());
        BOOST_TEST(copy.path().rfind("/tmp/remote_test.", 0) == 0);
        auto conn = co_await rp::spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(copy)), "copied");
        std::string echoed = co_await conn.run(echo_worker::echo, "ping");
        BOOST_TEST(echoed == "copied:ping");
        auto again = co_await rp::copy_to_host(host, rp::copy_options().with_ssh(ssh()));
        BOOST_TEST(!again.uploaded());  // content-addressed: the host already has it
        BOOST_TEST(again.path() == copy.path());

        co_await rp::remove(copy);
        auto gone = co_await rp::try_spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(copy)), std::string("x"));
        BOOST_REQUIRE(gone.has_error());
        // The relayed start-up stderr says why.
        BOOST_TEST(gone.error().message.find("No such file or directory") != std::string::npos);
        // A file named by existing_on_host is not ours to delete: `remove` does not take it.
        static_assert(!std::is_invocable_v<decltype(&rp::remove), rp::remote_executable>);
        static_assert(std::is_invocable_v<decltype(&rp::remove), rp::copied_executable>);
      },
      120s);
}

// Every ssh this process starts, logged by an `ssh` first on PATH that runs the real one.
class ssh_log {
 public:
  ssh_log() : path_(std::getenv("PATH")) {
    std::string real;
    std::istringstream dirs(path_);
    for (std::string dir; real.empty() && std::getline(dirs, dir, ':');)
      if (::access((dir + "/ssh").c_str(), X_OK) == 0) real = dir + "/ssh";
    BOOST_TEST_REQUIRE(!real.empty(), "no ssh on PATH");
    char pattern[] = "/tmp/ssh_log.XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(pattern) != nullptr);
    dir_ = pattern;
    std::ofstream(dir_ + "/ssh") << "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " << dir_ << "/log\nexec "
                                 << real << " \"$@\"\n";
    std::filesystem::permissions(dir_ + "/ssh", std::filesystem::perms::owner_all);
    ::setenv("PATH", (dir_ + ":" + path_).c_str(), 1);
  }
  ~ssh_log() {
    ::setenv("PATH", path_.c_str(), 1);
    std::filesystem::remove_all(dir_);
  }
  ssh_log(const ssh_log&) = delete;
  ssh_log& operator=(const ssh_log&) = delete;

  /// The ssh command lines so far that contain `part`.
  std::size_t count(const std::string& part) const {
    std::ifstream in(dir_ + "/log");
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += contains(line, part) ? 1 : 0;
    return n;
  }

 private:
  std::string path_;
  std::string dir_;
};

BOOST_AUTO_TEST_CASE(spawns_from_copy_to_host_hash_the_copy_once_and_look_up_the_host_once) {
  const std::string host = hosts->names.back();
  ssh_log ssh_calls;
  tests::run(
      [host, &ssh_calls]() -> asio::awaitable<void> {
        for (std::string label : {"one", "two"}) {
          auto copy = co_await on(host);  // a new remote_executable each time, one file
          auto conn = co_await rp::spawn<echo_worker>(
              rp::shutdown_on::connection_closed,
              rp::spawn_options().with_how(rp::how_to_run::remote(copy)), label);
          std::string echoed = co_await conn.run(echo_worker::echo, "x");
          BOOST_TEST(echoed == label + ":x");
        }
        // copy_to_host's content check, twice; its spawns trust it instead of hashing again.
        BOOST_TEST(ssh_calls.count("sha256sum") == 2U);
        // `ssh -G` for the dial-back address: none if an earlier test asked it for this host.
        BOOST_TEST(ssh_calls.count("-G ") <= 1U);
      },
      120s);
}

BOOST_AUTO_TEST_CASE(a_wrapped_remote_worker_runs_through_its_wrapper) {
  tests::run(
      []() -> asio::awaitable<void> {
        const std::string host = hosts->names.at(0);
        auto copy = co_await on(host);
        auto how = rp::how_to_run::remote(copy)
                       .wrap({"env", "RPCP_WRAPPED=inner"})
                       .wrap({"env", "RPCP_OUTER=outer"});
        auto conn =
            co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                            rp::spawn_options().with_how(how), std::string("w"));
        std::string inner = co_await conn.run(echo_worker::getenv, "RPCP_WRAPPED");
        std::string outer = co_await conn.run(echo_worker::getenv, "RPCP_OUTER");
        BOOST_TEST(inner == "inner");
        BOOST_TEST(outer == "outer");
        std::vector<std::string> argv = co_await conn.run(echo_worker::argv);
        BOOST_REQUIRE(!argv.empty());
        BOOST_TEST(argv[0] == copy.path());  // the wrappers exec'd the copy itself
      },
      120s);
}

BOOST_AUTO_TEST_CASE(removing_a_running_workers_copy_leaves_it_serving_and_no_file_behind) {
  tests::run(
      []() -> asio::awaitable<void> {
        const std::string host = hosts->names.at(2);
        auto copy = co_await on(host);
        auto conn = co_await rp::spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(copy)), std::string("running"));
        co_await rp::remove(copy);
        std::string echoed = co_await conn.run(echo_worker::echo, "still");
        BOOST_TEST(echoed == "running:still");
        // Neither the copy nor a temporary upload is left in the directory.
        std::string left = output_on(host, "ls -a /tmp | grep remote_test || true");
        BOOST_TEST(left.empty(), "left on " << host << ": " << left);
      },
      120s);
}

BOOST_AUTO_TEST_CASE(three_hosts_with_four_workers_each_answer_concurrently) {
  constexpr std::size_t per_host = 4;
  tests::run(
      []() -> asio::awaitable<void> {
        const auto& names = hosts->names;
        std::vector<rp::remote_executable> executables;
        for (const auto& host : names) {
          auto executable = co_await on(host);
          executables.push_back(std::move(executable));
        }
        std::vector<std::string> labels;
        std::vector<std::optional<rp::connection<echo_worker>>> conns(names.size() * per_host);
        std::vector<asio::awaitable<void>> spawns;
        for (std::size_t i = 0; i < conns.size(); ++i) {
          labels.push_back(names[i / per_host] + "#" + std::to_string(i % per_host));
          spawns.push_back(spawn_into(executables[i / per_host], labels[i], conns[i]));
        }
        co_await all_at_once(std::move(spawns));

        // All twelve alive at once, asked at once.
        std::vector<answers> replies(conns.size());
        std::vector<asio::awaitable<void>> asks;
        for (std::size_t i = 0; i < conns.size(); ++i) asks.push_back(ask(*conns[i], replies[i]));
        co_await all_at_once(std::move(asks));
        std::set<std::int64_t> pids;
        for (std::size_t i = 0; i < conns.size(); ++i) {
          BOOST_TEST(replies[i].echoed == labels[i] + ":hi");
          if (hosts->mode == "namespaces") BOOST_TEST(replies[i].hostname == names[i / per_host]);
          pids.insert(replies[i].pid);
        }
        BOOST_TEST(pids.size() == conns.size());  // one PID namespace: twelve distinct processes
      },
      120s, patient_handshakes());
}

BOOST_AUTO_TEST_CASE(twenty_workers_on_one_host_fit_its_sshd_session_limit) {
  // Each remote worker keeps an ssh session (its output); sshd allows 10 per connection by
  // default. Twenty at once must spread over connections without a refused session.
  std::ostringstream err_text;
  auto* old_err = std::cerr.rdbuf(err_text.rdbuf());
  std::size_t answered = 0;
  tests::run(
      [&answered]() -> asio::awaitable<void> {
        auto executable = co_await on(hosts->names.at(0));
        std::vector<std::optional<rp::connection<echo_worker>>> conns(20);
        std::vector<asio::awaitable<void>> spawns;
        for (std::size_t i = 0; i < conns.size(); ++i)
          spawns.push_back(spawn_into(executable, "many#" + std::to_string(i), conns[i]));
        co_await all_at_once(std::move(spawns));
        for (auto& conn : conns) {
          std::string echoed = co_await conn->run(echo_worker::echo, "x");
          if (echoed.ends_with(":x")) ++answered;
        }
      },
      120s, patient_handshakes());
  std::cerr.rdbuf(old_err);
  BOOST_TEST(answered == 20u);
  BOOST_TEST(!contains(err_text.str(), "Session open refused"), err_text.str());
  BOOST_TEST(!contains(err_text.str(), "disabling multiplexing"), err_text.str());
}

BOOST_AUTO_TEST_CASE(a_second_spawn_on_a_host_uploads_nothing) {
  const std::string host = hosts->names.at(2);
  tests::run(
      [host]() -> asio::awaitable<void> {
        auto earlier = co_await on(host);  // start without a copy there
        co_await rp::remove(earlier);
        auto first = co_await on(host);
        BOOST_TEST(first.uploaded());
        // Inode, modification and change times: an upload renames a new file into place.
        const std::string stat = "stat -c %i,%.9Y,%.9Z " + first.path();
        const std::string before = output_on(host, stat);
        BOOST_TEST_MESSAGE("after the first copy: " << before);
        BOOST_TEST(!before.empty());
        auto conn = co_await rp::spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(first)), std::string("first"));
        std::string echoed = co_await conn.run(echo_worker::echo, "a");
        BOOST_TEST(echoed == "first:a");

        auto second = co_await on(host);
        BOOST_TEST(!second.uploaded());
        BOOST_TEST(second.path() == first.path());
        auto again = co_await rp::spawn<echo_worker>(
            rp::shutdown_on::connection_closed,
            rp::spawn_options().with_how(rp::how_to_run::remote(second)), std::string("second"));
        echoed = co_await again.run(echo_worker::echo, "b");
        BOOST_TEST(echoed == "second:b");
        BOOST_TEST(output_on(host, stat) == before);
      },
      120s);
}

BOOST_AUTO_TEST_CASE(remote_output_comes_back_tagged_and_whole_by_default) {
  std::ostringstream out_text, err_text;
  auto* old_out = std::cout.rdbuf(out_text.rdbuf());
  auto* old_err = std::cerr.rdbuf(err_text.rdbuf());
  std::string prefix;
  tests::run(
      [&]() -> asio::awaitable<void> {
        const std::string host = hosts->names[0];
        auto executable = co_await on(host);
        auto options =
            rp::spawn_options().with_name("talker").with_how(rp::how_to_run::remote(executable));
        auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::called_shutdown_function,
                                                 std::move(options), std::string("x"));
        auto c = co_await rp::connect(w);
        std::int64_t pid = co_await c.run(echo_worker::pid);
        prefix = "[" + host + " " + std::to_string(pid) + " talker] ";
        co_await c.run(echo_worker::print_lines, 200);
        c.close();
        co_await rp::shutdown(w);  // exits right after writing: nothing may be lost on the way
        asio::steady_timer timer(co_await asio::this_coro::executor);
        auto count = [&prefix](const std::string& text) {
          std::size_t n = 0;
          for (std::size_t at = text.find(prefix); at != std::string::npos;
               at = text.find(prefix, at + 1))
            ++n;
          return n;
        };
        auto until = std::chrono::steady_clock::now() + 15s;
        while ((count(out_text.str()) < 200 || count(err_text.str()) < 200) &&
               std::chrono::steady_clock::now() < until) {
          timer.expires_after(20ms);
          co_await timer.async_wait(asio::use_awaitable);
        }
      },
      120s);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  std::string expected_out, expected_err;
  for (int i = 0; i < 200; ++i) {
    expected_out += prefix + "out " + std::to_string(i) + "\n";
    expected_err += prefix + "err " + std::to_string(i) + "\n";
  }
  auto only = [&prefix](const std::string& text) {
    std::string kept;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind(prefix, 0) == 0) kept += line + "\n";
    return kept;
  };
  BOOST_TEST(only(out_text.str()) == expected_out);
  BOOST_TEST(only(err_text.str()) == expected_err);
}

BOOST_AUTO_TEST_CASE(map_reduce_runs_on_local_and_remote_workers) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto config = rp::map_config().with_local(1);
        for (const auto& host : hosts->names) {
          auto executable = co_await on(host);
          config.add_remote(rp::how_to_run::remote(executable), 2);
        }
        // Started beforehand, so that every worker is up when the work begins (a call's own pool
        // starts on each as soon as it is up, and the local one is up first).
        auto everyone =
            co_await rp::map_pool<tests::with_pid>::start(std::move(config), rp::unit{});
        auto outputs = co_await rp::map<tests::with_pid>(everyone, std::views::iota(0, 20000));
        BOOST_REQUIRE_EQUAL(outputs.size(), 20000u);
        bool in_order = true;
        std::set<std::int64_t> pids;
        for (std::size_t i = 0; i < outputs.size(); ++i) {
          in_order = in_order && outputs[i].first == static_cast<std::int64_t>(i);
          pids.insert(outputs[i].second);
        }
        BOOST_TEST(in_order);
        BOOST_TEST(pids.size() >= 2u);  // the work was shared
        auto remote_sum = rp::map_config().with_local(0);
        for (const auto& host : hosts->names) {
          auto executable = co_await on(host);
          remote_sum.add_remote(rp::how_to_run::remote(executable), 1);
        }
        auto total = co_await rp::map_reduce_commutative<tests::sum>(
            std::move(remote_sum), std::views::iota(0, 100000), rp::unit{});
        BOOST_TEST(total.value() == 4999950000LL);

        // The other operations, on a pool of remote workers kept for all of them.
        auto remote_only = rp::map_config().with_local(0);
        for (const auto& host : hosts->names) {
          auto executable = co_await on(host);
          remote_only.add_remote(rp::how_to_run::remote(executable), 1);
        }
        auto adds =
            co_await rp::map_pool<tests::add_thousand>::start(std::move(remote_only), rp::unit{});
        BOOST_TEST(adds.size() == hosts->names.size());
        std::vector<int> seen(3000, 0);
        auto record = [&seen](std::uint64_t index, std::int64_t value) {
          if (value == static_cast<std::int64_t>(index) + 1000) ++seen.at(index);
        };
        co_await rp::map_unordered<tests::add_thousand>(adds, std::views::iota(0, 3000), record);
        BOOST_TEST(std::ranges::all_of(seen, [](int n) { return n == 1; }));
        auto finder_config = rp::map_config().with_local(0);
        auto joiner_config = rp::map_config().with_local(0);
        for (const auto& host : hosts->names) {
          auto executable = co_await on(host);
          finder_config.add_remote(rp::how_to_run::remote(executable), 1);
          joiner_config.add_remote(rp::how_to_run::remote(executable), 1);
        }
        auto found = co_await rp::find_map<tests::find_777>(
            std::move(finder_config), std::views::iota(std::int64_t(0)), rp::unit{});
        BOOST_TEST(found.value_or(1) % 777 == 0);
        auto joined = co_await rp::map_reduce<tests::concat>(std::move(joiner_config),
                                                             std::views::iota(0, 2000), rp::unit{});
        std::vector<std::int64_t> expected;
        for (std::int64_t i = 0; i < 2000; ++i) expected.push_back(i);
        BOOST_TEST((joined.value() == expected));
      },
      120s);
}

BOOST_AUTO_TEST_CASE(master_killed_by_sigkill_leaves_no_remote_worker_even_one_computing) {
  // A master of its own (this binary in scenario mode), so that it can be killed; each of its
  // workers is inside a 30 s plain function by then.
  std::string list;
  for (const auto& host : hosts->names) list += host + " ";
  ::setenv("RPCP_SCENARIO_HOSTS", list.c_str(), 1);
  ::setenv("RPCP_SCENARIO_SSH_CONFIG", (hosts_dir() + "/ssh_config").c_str(), 1);
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
