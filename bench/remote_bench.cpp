#include "remote_bench.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <rpc_parallel/remote.hpp>
#include <rpc_parallel/rpc_parallel.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "remote_hosts.hpp"
#include "report.hpp"

namespace bench {
namespace {

namespace asio = boost::asio;
namespace rp = rpc_parallel;

struct remote_ping_worker {
  static constexpr std::string_view name = "remote_ping_worker";
  static constexpr rp::rpc<remote_ping_worker, std::int64_t, std::int64_t> ping{"ping"};
  static void implement(rp::implementations<remote_ping_worker>& impl) {
    impl.add(ping, [](std::int64_t x) { return x + 1; });
  }
};

using ping_connection = rp::connection<remote_ping_worker>;

constexpr int hosts_count = 4;
constexpr int workers_per_host = 4;

// One host as the framework sees it: the ssh options of its current ControlMaster and our copy.
struct host_state {
  std::string name;
  rp::ssh_options ssh;
  std::optional<rp::copied_executable> copy;
};

std::vector<std::string> plus(std::vector<std::string> words,
                              const std::vector<std::string>& more) {
  words.insert(words.end(), more.begin(), more.end());
  return words;
}

double median_ms(const std::vector<double>& seconds) { return percentile(seconds, 0.5) * 1e3; }

asio::awaitable<void> pause(std::chrono::milliseconds how_long) {
  asio::steady_timer timer(co_await asio::this_coro::executor, how_long);
  co_await timer.async_wait(asio::use_awaitable);
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

// Back to nothing on `h`: its copy removed, the framework's ControlMasters to it closed, and
// ssh options the framework has not used (so it opens a connection instead of assuming one).
asio::awaitable<void> to_nothing(test_hosts& hosts, host_state& h) {
  if (h.copy) co_await rp::remove(*h.copy);
  h.copy.reset();
  hosts.close_framework_masters(h.name);
  h.ssh = rp::ssh_options().with_config_file(hosts.fresh_config());
}

// Copies this binary to `h` (it must not be there yet) and keeps the copy in `h`.
asio::awaitable<void> copy_there(host_state& h) {
  auto copy = co_await rp::copy_to_host(h.name, rp::copy_options().with_ssh(h.ssh));
  if (!copy.uploaded()) throw std::runtime_error("remote bench: the copy was already on " + h.name);
  h.copy.emplace(std::move(copy));
}

// Spawns a worker from `executable`, has it answer one ping, and keeps it in `slot` (which
// outlives this: the caller's vector outlives the group it runs in).
asio::awaitable<void> spawn_and_ping(rp::remote_executable executable,
                                     std::optional<ping_connection>& slot) {
  auto conn = co_await rp::spawn<remote_ping_worker>(
      rp::shutdown_on::connection_closed,
      rp::spawn_options().with_how(rp::how_to_run::remote(executable)));
  std::int64_t answer = co_await conn.run(remote_ping_worker::ping, 41);
  if (answer != 42) throw std::runtime_error("remote bench: wrong answer");
  slot.emplace(std::move(conn));
}

struct phases {
  double copy = 0, spawn = 0, rpc = 0;
  double total() const { return copy + spawn + rpc; }
};

// copy_to_host (when `copy`) + spawn + first RPC on `h`, timed phase by phase.
asio::awaitable<phases> spawn_once(host_state& h, bool copy) {
  phases p;
  auto start = clock_type::now();
  if (copy) {
    auto c = co_await rp::copy_to_host(h.name, rp::copy_options().with_ssh(h.ssh));
    h.copy.emplace(std::move(c));
  }
  p.copy = seconds_since(start);
  start = clock_type::now();
  auto conn = co_await rp::spawn<remote_ping_worker>(
      rp::shutdown_on::connection_closed,
      rp::spawn_options().with_how(rp::how_to_run::remote(*h.copy)));
  p.spawn = seconds_since(start);
  start = clock_type::now();
  std::int64_t answer = co_await conn.run(remote_ping_worker::ping, 1);
  p.rpc = seconds_since(start);
  if (answer != 2) throw std::runtime_error("remote bench: wrong answer");
  co_return p;
}

// What the framework does once per process: the SHA-256 of this binary (libsodium, 64 KiB reads).
double local_hash_seconds() {
  auto start = clock_type::now();
  std::ifstream in("/proc/self/exe", std::ios::binary);
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(buffer.data()),
                              static_cast<unsigned long long>(in.gcount()));
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  return seconds_since(start);
}

struct remote_run {
  test_hosts& hosts;
  std::vector<host_state> states;
  std::string binary;  // this binary's path, for the upload floor
  int samples;
};

// (a) First spawn on a host from nothing, beside a fresh `ssh true` and a fresh upload (and,
// as the tighter comparison, an upload over a control connection: ours opens one connection).
asio::awaitable<void> measure_first_spawn(remote_run& run) {
  host_state& h = run.states[0];
  auto& hosts = run.hosts;
  hosts.open_control(h.name);
  command fresh_true{plus(hosts.fresh_ssh(), {h.name, "true"})};
  command fresh_upload{plus(hosts.fresh_ssh(), {h.name, "cat > /tmp/rpcp-bench-upload"}),
                       run.binary};
  command control_upload{plus(hosts.control_ssh(), {h.name, "cat > /tmp/rpcp-bench-upload"}),
                         run.binary};
  // Not timed: this process hashes its binary once, and page caches warm up.
  co_await to_nothing(hosts, h);
  co_await spawn_once(h, true);
  wait_for_idle("remote_first_spawn");
  std::vector<double> trues, uploads, control_uploads, ours, copies, spawns, rpcs;
  for (int i = 0; i < run.samples; ++i) {
    trues.push_back(timed_command(fresh_true));
    uploads.push_back(timed_command(fresh_upload));
    control_uploads.push_back(timed_command(control_upload));
    co_await to_nothing(hosts, h);
    co_await pause(std::chrono::milliseconds(200));  // the last worker's exit settles
    phases p = co_await spawn_once(h, true);
    if (!h.copy->uploaded()) throw std::runtime_error("remote bench: the copy was already there");
    ours.push_back(p.total());
    copies.push_back(p.copy);
    spawns.push_back(p.spawn);
    rpcs.push_back(p.rpc);
  }
  double size_mb = static_cast<double>(std::filesystem::file_size(run.binary)) / 1e6;
  report("remote_binary_size", size_mb, "MB");
  report("remote_floor_ssh_true_fresh_median", median_ms(trues), "ms");
  report("remote_floor_upload_binary_fresh_median", median_ms(uploads), "ms");
  report("remote_floor_upload_binary_control_connection_median", median_ms(control_uploads), "ms");
  report("remote_first_spawn_from_nothing_median", median_ms(ours), "ms");
  report("remote_first_spawn_copy_to_host_median", median_ms(copies), "ms");
  report("remote_first_spawn_spawn_median", median_ms(spawns), "ms");
  report("remote_first_spawn_first_rpc_median", median_ms(rpcs), "ms");
  ratio("remote_first_spawn_vs_fresh_true_plus_fresh_upload", median_ms(ours),
        median_ms(trues) + median_ms(uploads), "<= 1.5x");
  ratio("remote_first_spawn_vs_fresh_true_plus_control_connection_upload", median_ms(ours),
        median_ms(trues) + median_ms(control_uploads), "reported");
  std::vector<double> hashes;
  for (int i = 0; i < 5; ++i) hashes.push_back(local_hash_seconds());
  report("remote_local_sha256_of_binary_median", median_ms(hashes), "ms");
}

// (b) Later spawns on a host (copy there, ControlMaster warm), beside `ssh true` over a control
// connection; and what the steps the framework adds cost over that connection.
asio::awaitable<void> measure_later_spawn(remote_run& run) {
  host_state& h = run.states[0];
  auto& hosts = run.hosts;
  command control_true{plus(hosts.control_ssh(), {h.name, "true"})};
  wait_for_idle("remote_later_spawn");
  std::vector<double> trues, ours, with_copy;
  for (int i = 0; i < run.samples; ++i) {
    trues.push_back(timed_command(control_true));
    co_await pause(std::chrono::milliseconds(100));
    phases p = co_await spawn_once(h, false);
    ours.push_back(p.total());
    co_await pause(std::chrono::milliseconds(100));
    p = co_await spawn_once(h, true);  // a new remote_executable: its check runs again
    with_copy.push_back(p.total());
    co_await pause(std::chrono::milliseconds(100));
  }
  report("remote_floor_ssh_true_control_connection_median", median_ms(trues), "ms");
  report("remote_later_spawn_median", median_ms(ours), "ms");
  report("remote_later_spawn_with_copy_to_host_median", median_ms(with_copy), "ms");
  ratio("remote_later_spawn_vs_control_connection_true", median_ms(ours), median_ms(trues),
        "<= 1.5x");
  ratio("remote_later_spawn_with_copy_to_host_vs_control_connection_true", median_ms(with_copy),
        median_ms(trues), "reported");

  // The framework's extra steps by themselves, over the control connection: the preflight's
  // script, and its two costly parts (hashing the copy there, starting it for the probe).
  const std::string path = h.copy->path();
  auto over_control = [&hosts, &h](std::string script) {
    return command{plus(hosts.control_ssh(), {h.name, std::move(script)})};
  };
  std::vector<command> steps{
      over_control("sha256sum -- " + path + "; echo \"arch $(uname -m)\"; RPC_PARALLEL_PROBE=1 " +
                   path + " 2>&1; echo \"probe $?\""),
      over_control("sha256sum -- " + path), over_control("RPC_PARALLEL_PROBE=1 " + path),
      command{{"ssh", "-G", "-F", hosts.ssh_config(), h.name}}};
  std::vector<std::vector<double>> times(steps.size());
  for (int i = 0; i < std::min(run.samples, 10); ++i)
    for (std::size_t k = 0; k < steps.size(); ++k) times[k].push_back(timed_command(steps[k]));
  report("remote_floor_preflight_script_control_connection_median", median_ms(times[0]), "ms");
  report("remote_floor_sha256sum_of_copy_control_connection_median", median_ms(times[1]), "ms");
  report("remote_floor_probe_start_of_copy_control_connection_median", median_ms(times[2]), "ms");
  report("remote_ssh_G_median", median_ms(times[3]), "ms");
}

// Every host readies `workers_per_host` workers at once (after copying the binary there when
// `copy`), all hosts at once; the connections stay in `conns` until the caller drops them.
asio::awaitable<void> host_ready(host_state& h, bool copy,
                                 std::vector<std::optional<ping_connection>>& conns) {
  if (copy) co_await copy_there(h);
  std::vector<asio::awaitable<void>> spawns;
  for (auto& slot : conns) spawns.push_back(spawn_and_ping(*h.copy, slot));
  co_await all_at_once(std::move(spawns));
}

asio::awaitable<double> all_hosts_ready(std::vector<host_state>& states, bool copy) {
  std::vector<std::vector<std::optional<ping_connection>>> conns(states.size());
  for (auto& slots : conns) slots.resize(workers_per_host);
  std::vector<asio::awaitable<void>> hosts;
  for (std::size_t i = 0; i < states.size(); ++i)
    hosts.push_back(host_ready(states[i], copy, conns[i]));
  auto start = clock_type::now();
  co_await all_at_once(std::move(hosts));
  co_return seconds_since(start);
}

// (c) 16 workers on 4 hosts, from nothing and warm, beside ssh doing the same at once.
asio::awaitable<void> measure_many_hosts(remote_run& run, int samples) {
  auto& hosts = run.hosts;
  std::vector<std::vector<command>> fresh, control;
  for (auto& h : run.states) {
    fresh.push_back(
        {{plus(hosts.fresh_ssh(), {h.name, "true"})},
         {plus(hosts.fresh_ssh(), {h.name, "cat > /tmp/rpcp-bench-upload"}), run.binary}});
    hosts.open_control(h.name);
    for (int w = 0; w < workers_per_host; ++w)
      control.push_back({{plus(hosts.control_ssh(), {h.name, "true"})}});
  }
  wait_for_idle("remote_many_hosts");
  std::vector<double> cold, warm, cold_floor, warm_floor;
  for (int i = 0; i < samples; ++i) {
    cold_floor.push_back(timed_at_once(fresh));
    for (auto& h : run.states) co_await to_nothing(hosts, h);
    co_await pause(std::chrono::milliseconds(300));
    double t = co_await all_hosts_ready(run.states, true);
    cold.push_back(t);
    co_await pause(std::chrono::milliseconds(300));
    warm_floor.push_back(timed_at_once(control));
    t = co_await all_hosts_ready(run.states, false);
    warm.push_back(t);
    co_await pause(std::chrono::milliseconds(300));
  }
  std::string what = std::to_string(hosts_count * workers_per_host) + "_workers_" +
                     std::to_string(hosts_count) + "_hosts";
  report("remote_" + what + "_from_nothing_median", median_ms(cold), "ms");
  report("remote_" + what + "_warm_median", median_ms(warm), "ms");
  report("remote_floor_" + std::to_string(hosts_count) +
             "_hosts_fresh_true_then_upload_at_once_median",
         median_ms(cold_floor), "ms");
  report("remote_floor_" + what + "_control_connection_true_at_once_median", median_ms(warm_floor),
         "ms");
  ratio("remote_" + what + "_from_nothing", median_ms(cold), median_ms(cold_floor), "reported");
  ratio("remote_" + what + "_warm", median_ms(warm), median_ms(warm_floor), "reported");
}

}  // namespace

void add_remote_workers(rp::app& app) { app.add_worker<remote_ping_worker>(); }

asio::awaitable<void> measure_remote(bool quick) {
  test_hosts hosts(hosts_count);  // torn down when this frame goes, also on an exception
  remote_run run{
      hosts, {}, std::filesystem::read_symlink("/proc/self/exe").string(), quick ? 5 : 20};
  for (const auto& name : hosts.names())
    run.states.push_back({name, rp::ssh_options().with_config_file(hosts.fresh_config()), {}});
  co_await measure_first_spawn(run);
  co_await measure_later_spawn(run);
  co_await measure_many_hosts(run, quick ? 2 : 5);
}

}  // namespace bench
