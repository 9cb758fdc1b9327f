#include "support/scenarios.hpp"

#include "support/remote_hosts.hpp"
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/joins.hpp>
#include <rpc_parallel/map_reduce.hpp>
#include <rpc_parallel/remote.hpp>
#include <rpc_parallel/slurm.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <ranges>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;

namespace tests {
namespace {

// Starts a 30 s spin (a plain function that never yields) on `conn`, in the background.
void start_spinning(asio::any_io_executor executor, rp::connection<echo_worker>& conn) {
  asio::co_spawn(
      executor,
      [](rp::connection<echo_worker>* c) -> asio::awaitable<void> {
        (void)co_await c->try_run(echo_worker::busy, 30000);
      }(&conn),
      asio::detached);
}

// Spawns workers under every policy that must not outlive their master (plus a grandchild),
// prints their pids, then waits to be killed.
asio::awaitable<void> spawn_and_hang() {
  auto beating =
      co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                      rp::spawn_options().with_name("beating"), std::string("b"));
  auto beating_conn = co_await rp::connect(beating);
  auto owned = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                               rp::spawn_options().with_name("owned"), "o");
  auto chain = co_await rp::spawn<chain_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_name("chain"), 2);
  // Spawned last, it would hold copies of every earlier link if descriptors leaked into it,
  // and then none of the others would see this master die.
  auto immortal =
      co_await rp::spawn<echo_worker>(rp::shutdown_on::called_shutdown_function,
                                      rp::spawn_options().with_name("immortal"), std::string("i"));
  auto immortal_conn = co_await rp::connect(immortal);
  std::vector<std::int64_t> pids;
  std::int64_t pid = co_await beating_conn.run(echo_worker::pid, unit{});
  pids.push_back(pid);
  pid = co_await owned.run(echo_worker::pid, unit{});
  pids.push_back(pid);
  auto ancestry = co_await chain.run(chain_worker::ancestry, unit{});
  for (auto& entry : ancestry) pids.push_back(entry.first);
  for (auto p : pids) std::cout << "pid " << p << "\n";
  std::int64_t immortal_pid = co_await immortal_conn.run(echo_worker::pid, unit{});
  std::cout << "immortal " << immortal_pid << "\n";
  std::cout << "ready" << std::endl;
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);
}

// Spawns 4 workers under connection_closed and 4 under heartbeater_timeout, starts a 30 s plain
// function on each, prints their pids, then waits to be killed.
asio::awaitable<void> spawn_busy_and_hang() {
  auto executor = co_await asio::this_coro::executor;
  std::vector<rp::connection<echo_worker>> conns;
  for (int i = 0; i < 8; ++i) {
    if (i < 4) {
      conns.push_back(co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                      rp::spawn_options(), "owned"));
    } else {
      auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                               rp::spawn_options(), std::string("beating"));
      conns.push_back(co_await rp::connect(w));
    }
    std::int64_t pid = co_await conns.back().run(echo_worker::pid);
    std::cout << "pid " << pid << "\n";
  }
  for (auto& conn : conns) start_spinning(executor, conn);
  co_await asio::post(executor, asio::use_awaitable);  // the calls are on their way
  std::cout << "ready" << std::endl;
  asio::steady_timer forever(executor, asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);
}

// Renames its own binary while running, then spawns again (Rpc_parallel's
// remove_running_executable).
asio::awaitable<void> rename_and_spawn() {
  auto first = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                               rp::spawn_options(), "before");
  std::string before = co_await first.run(echo_worker::echo, "ping");
  std::string path = self_path();
  std::filesystem::rename(path, path + ".moved");
  auto second = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), "after");
  std::string after = co_await second.run(echo_worker::echo, "ping");
  std::filesystem::rename(path + ".moved", path);
  std::cout << (before == "before:ping" && after == "after:ping" ? "Ok." : "Wrong answers")
            << std::endl;
}

// Spawns two workers with each of `hows` (one owned by its connection, one on heartbeats),
// prints their pids, starts a plain call spinning on each, then waits to be killed.
asio::awaitable<void> spawn_everywhere_and_hang(std::vector<rp::how_to_run> hows) {
  std::vector<rp::connection<echo_worker>> owned;
  std::vector<rp::connection<echo_worker>> beating;
  for (const auto& how : hows) {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_how(how), how.host());
    std::int64_t pid = co_await conn.run(echo_worker::pid);
    std::cout << "pid " << pid << "\n";
    owned.push_back(std::move(conn));
    auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                             rp::spawn_options().with_how(how), how.host());
    auto link = co_await rp::connect(w);
    pid = co_await link.run(echo_worker::pid);
    std::cout << "pid " << pid << "\n";
    beating.push_back(std::move(link));
  }
  // Every worker inside a plain function when the master dies: only the guardian can notice.
  auto executor = co_await asio::this_coro::executor;
  for (auto& conn : owned) start_spinning(executor, conn);
  for (auto& conn : beating) start_spinning(executor, conn);
  co_await asio::post(executor, asio::use_awaitable);  // the calls are on their way
  std::cout << "ready" << std::endl;
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);
}

// On the test hosts named in RPCP_SCENARIO_HOSTS (with the ssh config in
// RPCP_SCENARIO_SSH_CONFIG).
asio::awaitable<void> remote_spawn_and_hang() {
  std::istringstream hosts(std::getenv("RPCP_SCENARIO_HOSTS"));
  auto ssh = rp::ssh_options().with_config_file(std::getenv("RPCP_SCENARIO_SSH_CONFIG"));
  std::vector<rp::how_to_run> hows;
  for (std::string host; hosts >> host;) {
    auto executable = co_await rp::copy_to_host(host, rp::copy_options().with_ssh(ssh));
    hows.push_back(rp::how_to_run::remote(executable));
  }
  co_await spawn_everywhere_and_hang(std::move(hows));
}

// As steps on the Slurm nodes named in RPCP_SCENARIO_NODES (SLURM_CONF names the cluster).
asio::awaitable<void> slurm_spawn_and_hang() {
  std::istringstream nodes(std::getenv("RPCP_SCENARIO_NODES"));
  std::vector<rp::how_to_run> hows;
  for (std::string node; nodes >> node;) hows.push_back(rp::slurm::step(node));
  co_await spawn_everywhere_and_hang(std::move(hows));
}

// Zombies among all processes this /proc shows (the whole pid namespace under --mount-proc),
// each as its /proc/PID/stat line (pid, command, state, parent...).
std::vector<std::string> zombies_in_namespace() {
  std::vector<std::string> zombies;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos ||
        process_state(std::stoi(name)) != 'Z')
      continue;
    std::string stat;
    std::getline(std::ifstream(entry.path() / "stat"), stat);
    zombies.push_back(stat);
  }
  return zombies;
}

// Spawns and shuts down 300 daemonised workers, then reports the zombies left in its pid
// namespace (where, run as PID 1, it would be the parent of every exited worker).
asio::awaitable<int> spawn_cycles() {
  constexpr int cycles = 300;
  for (int i = 0; i < cycles; ++i) {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), std::string("c"));
    co_await conn.run(echo_worker::pid);
    conn.close();
    co_await conn.closed();
  }
  // The last workers may still be exiting: wait until each is reaped, or 10 s.
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer poll(executor);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!zombies_in_namespace().empty() && std::chrono::steady_clock::now() < deadline) {
    poll.expires_after(20ms);
    co_await poll.async_wait(asio::use_awaitable);
  }
  auto left = zombies_in_namespace();
  for (const auto& stat : left) std::cout << "zombie " << stat << "\n";  // for a failure's message
  std::cout << "cycles " << cycles << " zombies " << left.size() << "\n"
            << "done" << std::endl;
  co_return 0;
}

// A long map-reduce of naps on 4 workers, through app::run, for a test to interrupt: prints
// "pid N" for each worker that answers and "ready" once 150 items are done. Items from 200 on
// take `later_ms` each.
asio::awaitable<int> map_until_interrupted(std::int64_t later_ms) {
  std::set<std::int64_t> pids;
  std::uint64_t done = 0;
  auto sink = [&](std::uint64_t, std::int64_t pid) {
    if (pids.insert(pid).second) std::cout << "pid " << pid << std::endl;
    if (++done == 150) std::cout << "ready" << std::endl;
  };
  auto naps = std::views::iota(std::int64_t(0), std::int64_t(1'000'000)) |
              std::views::transform([later_ms](std::int64_t i) { return i < 200 ? 1 : later_ms; });
  auto config = rp::map_config().with_local(4).with_batch_size(5).with_drain_grace(60s);
  co_await rp::map_unordered<tests::naps>(std::move(config), naps, rp::unit{}, sink);
  co_return 0;
}

// Map-reduce over the Slurm allocation this master runs in (under salloc), through app::run.
// "map_over_allocation": host_of over 0..9999; prints "sum S" (of the inputs that came back,
// each once) and "hosts H1 H2 ..." (where they were mapped). "map_until_cancelled": naps of
// 1 ms for a test to scancel mid-run; prints "pid N" per worker, "ready" after 150 items, and
// "error: ..." once the call fails.
asio::awaitable<int> map_over_allocation(bool until_cancelled) {
  auto config = rp::slurm::allocation::current().map_config().with_batch_size(5);
  if (!until_cancelled) {
    std::set<std::int64_t> seen;
    std::set<std::string> hosts;
    std::int64_t sum = 0;
    auto sink = [&](std::uint64_t, std::pair<std::int64_t, std::string> mapped) {
      if (seen.insert(mapped.first).second) sum += mapped.first;
      hosts.insert(mapped.second);
    };
    co_await rp::map_unordered<tests::host_of>(
        std::move(config), std::views::iota(std::int64_t(0), std::int64_t(10'000)), rp::unit{},
        sink);
    std::cout << "sum " << sum << "\nhosts";
    for (const auto& host : hosts) std::cout << " " << host;
    std::cout << std::endl;
    co_return 0;
  }
  std::set<std::int64_t> pids;
  std::uint64_t done = 0;
  auto sink = [&](std::uint64_t, std::int64_t pid) {
    if (pids.insert(pid).second) std::cout << "pid " << pid << std::endl;
    if (++done == 150) std::cout << "ready" << std::endl;
  };
  auto naps = std::views::iota(std::int64_t(0), std::int64_t(1'000'000)) |
              std::views::transform([](std::int64_t) { return std::int64_t(1); });
  try {
    co_await rp::map_unordered<tests::naps>(std::move(config), naps, rp::unit{}, sink);
  } catch (const std::exception& e) {
    std::cout << "error: " << e.what() << std::endl;
    co_return 1;
  }
  co_return 0;
}

}  // namespace

// Opens joins (the rendezvous and secret files in $RPCP_SCENARIO_DIR), prints "join
// ADDRESS:PORT" and "ready", then maps with_pid over 0..999 on one joined worker and nothing
// else; prints "sum S" and "pids P...".
asio::awaitable<int> map_with_joins() {
  std::string dir = std::getenv("RPCP_SCENARIO_DIR");
  auto joins = rp::joins::open(rp::join_options()
                                   .with_rendezvous_file(dir + "/rendezvous")
                                   .with_secret_file(dir + "/secret"));
  std::cout << "join " << joins.addresses().front() << "\nready" << std::endl;
  std::set<std::int64_t> pids;
  std::int64_t sum = 0;
  auto sink = [&](std::uint64_t, std::pair<std::int64_t, std::int64_t> mapped) {
    sum += mapped.first;
    pids.insert(mapped.second);
  };
  auto config = rp::map_config().with_local(0).with_remote(joins.how(), 1);
  co_await rp::map_unordered<tests::with_pid>(
      std::move(config), std::views::iota(std::int64_t(0), std::int64_t(1000)), rp::unit{}, sink);
  std::cout << "sum " << sum << "\npids";
  for (auto pid : pids) std::cout << " " << pid;
  std::cout << std::endl;
  co_return 0;
}

// A symmetric launch's master maps host_of over 0..9999 on its peers; prints "peers N",
// "sum S" and "hosts H1 H2 ...".
asio::awaitable<int> symmetric_map() {
  rp::symmetric_peers peers = rp::peers();
  std::cout << "peers " << peers.count << std::endl;
  std::set<std::string> hosts;
  std::int64_t sum = 0;
  auto sink = [&](std::uint64_t, std::pair<std::int64_t, std::string> mapped) {
    sum += mapped.first;
    hosts.insert(mapped.second);
  };
  auto config = rp::map_config().with_local(0).with_remote(peers.how, peers.count);
  co_await rp::map_unordered<tests::host_of>(
      std::move(config), std::views::iota(std::int64_t(0), std::int64_t(10'000)), rp::unit{}, sink);
  std::cout << "sum " << sum << "\nhosts";
  for (const auto& host : hosts) std::cout << " " << host;
  std::cout << std::endl;
  co_return 0;
}

// 4 local workers and one on each host named in `hosts`, the second local one busy in a plain
// spin: prints "pid NAME PID" for each and "ready", then serves until it is killed (status_test).
asio::awaitable<int> status_watch(std::vector<std::string> hosts) {
  std::vector<rp::connection<cancel_worker>> workers;
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) names.push_back("local-" + std::to_string(i));
  for (const auto& host : hosts) names.push_back("remote-" + host);
  for (std::size_t i = 0; i < names.size(); ++i) {
    rp::how_to_run how = rp::how_to_run::local();
    if (i >= 4) {
      auto copy = co_await on(hosts[i - 4]);
      how = rp::how_to_run::remote(copy);
    }
    auto options = rp::spawn_options().with_name(names[i]).with_how(std::move(how));
    auto conn = co_await rp::spawn<cancel_worker>(rp::shutdown_on::connection_closed,
                                                  std::move(options), rp::unit{});
    workers.push_back(std::move(conn));
  }
  for (std::size_t i = 0; i < workers.size(); ++i) {
    std::int64_t pid = co_await workers[i].run(cancel_worker::pid, rp::unit{});
    std::cout << "pid " << names[i] << " " << pid << "\n";
  }
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, workers.at(1).run(cancel_worker::spin, std::int64_t(600'000)),
                 asio::detached);
  std::cout << "ready" << std::endl;
  asio::steady_timer forever(executor, asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);
  co_return 0;
}

// Calls with known outcomes for the metrics (metrics_test): 7 echo_worker.echo that answer and
// 3 echo_worker.fail that throw, on two echo workers, and a map of add_thousand over 0..99 on a
// kept pool of two; prints "ready", then serves until it is killed (every worker stays up), or
// with `then_exit` returns 0.
asio::awaitable<int> metrics_calls(bool then_exit) {
  auto answers = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                 rp::spawn_options(), std::string("m-0"));
  auto throws = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options(), std::string("m-1"));
  for (int i = 0; i < 7; ++i) co_await answers.run(echo_worker::echo, "hello");
  for (int i = 0; i < 3; ++i) {
    auto failed = co_await throws.try_run(echo_worker::fail, "as asked");
    if (failed.has_value()) co_return 1;  // it should have thrown
  }
  auto config = rp::map_config().with_local(2).with_batch_size(10);
  auto pool = co_await rp::map_pool<add_thousand>::start(std::move(config), rp::unit{});
  auto inputs = std::views::iota(std::int64_t(0), std::int64_t(100));
  auto mapped = co_await rp::map<add_thousand>(pool, inputs);
  if (mapped.size() != 100) co_return 1;
  std::cout << "ready" << std::endl;
  if (then_exit) co_return 0;
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);
  co_return 0;
}

// For the trace file (trace_test): the calls of metrics_calls, a one-way call, a stream of 5
// values from stream_worker "t-2", an async call; then it exits.
asio::awaitable<int> traced_run() {
  int status = co_await metrics_calls(true);
  if (status != 0) co_return status;
  auto streamer = co_await rp::spawn<stream_worker>(rp::shutdown_on::connection_closed,
                                                    rp::spawn_options().with_name("t-2"), unit{});
  auto reader = co_await streamer.run(stream_worker::count, std::int64_t(5));
  std::int64_t values = 0;
  while (co_await reader.next()) ++values;
  if (values != 5) co_return 1;
  auto echo = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                              rp::spawn_options(), std::string("t-3"));
  echo.send(echo_worker::print, "one way");
  co_await echo.run(echo_worker::sleep_async, std::int64_t(1));
  co_return 0;
}

// Log lines of every kind (logs_test): the master's write_log at error, a worker's write_log
// (stream_worker "j-0"), and a worker's own stderr line "err 0" (echo_worker "j-1"); prints
// "pid PID" of j-1 and "ready", then serves until it is killed.
asio::awaitable<int> log_lines() {
  rp::write_log(rp::log_level::error, "logged by the master");
  auto logger = co_await rp::spawn<stream_worker>(rp::shutdown_on::connection_closed,
                                                  rp::spawn_options().with_name("j-0"), unit{});
  co_await logger.run(stream_worker::log, "logged by the worker");
  auto printer = co_await rp::spawn<echo_worker>(
      rp::shutdown_on::connection_closed, rp::spawn_options().with_name("j-1"), std::string("p"));
  co_await printer.run(echo_worker::print_lines, std::int64_t(1));
  std::int64_t pid = co_await printer.run(echo_worker::pid, unit{});
  std::cout << "pid " << pid << "\nready" << std::endl;
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);
  co_return 0;
}

// `main` through app::run with `args` as its command line.
int run_app(const std::vector<std::string>& args, std::function<asio::awaitable<int>()> main) {
  std::vector<std::string> words{"scenario"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  return app().run(static_cast<int>(words.size()), argv.data(), std::move(main));
}

int run_scenario(const std::string& name, const std::vector<std::string>& args) {
  if (name == "app")  // a master with nothing to do: what `--rpc-*` options make of it
    return run_app(args, []() -> asio::awaitable<int> { co_return 3; });
  if (name == "map_with_joins") return run_app(args, map_with_joins);
  if (name == "symmetric_map") return run_app(args, symmetric_map);
  if (name == "status_watch") return run_app({}, [args] { return status_watch(args); });
  if (name == "log_lines") return run_app(args, log_lines);
  if (name == "traced_run") return run_app(args, traced_run);
  if (name == "metrics_calls" || name == "metrics_calls_then_exit")
    return run_app(args, [exit = name != "metrics_calls"] { return metrics_calls(exit); });
  if (name == "hang_through_app") {
    // Prints "ready" and waits to be signalled, as a master started through app::run.
    char program[] = "scenario";
    char* argv[] = {program, nullptr};
    return app().run(1, argv, []() -> asio::awaitable<int> {
      std::cout << "ready" << std::endl;
      asio::steady_timer forever(co_await asio::this_coro::executor,
                                 asio::steady_timer::time_point::max());
      co_await forever.async_wait(asio::use_awaitable);
      co_return 0;
    });
  }
  if (name == "map_until_interrupted" || name == "map_stuck_until_interrupted") {
    char program[] = "scenario";
    char* argv[] = {program, nullptr};
    std::int64_t later_ms = name == "map_until_interrupted" ? 1 : 600'000;
    return app().run(1, argv, [later_ms] { return map_until_interrupted(later_ms); });
  }
  if (name == "map_over_allocation" || name == "map_until_cancelled") {
    char program[] = "scenario";
    char* argv[] = {program, nullptr};
    bool until_cancelled = name == "map_until_cancelled";
    return app().run(1, argv, [until_cancelled] { return map_over_allocation(until_cancelled); });
  }
  if (name == "spawn_cycles_through_app") {
    // Through app::run, as a user's main would be (it is what handles a master that is PID 1).
    char program[] = "scenario";
    char* argv[] = {program, nullptr};
    return app().run(1, argv, spawn_cycles);
  }
  std::function<asio::awaitable<void>()> body;
  if (name == "spawn_and_hang")
    body = spawn_and_hang;
  else if (name == "spawn_busy_and_hang")
    body = spawn_busy_and_hang;
  else if (name == "rename_and_spawn")
    body = rename_and_spawn;
  else if (name == "remote_spawn_and_hang")
    body = remote_spawn_and_hang;
  else if (name == "slurm_spawn_and_hang")
    body = slurm_spawn_and_hang;
  else
    return 2;
  try {
    tests::run(body, 600s);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "scenario " << name << ": " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace tests
