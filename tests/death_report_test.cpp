// Every error caused by a worker's death says how it died: the signal or exit status, its stack
// trace when it could write one, the calls in flight, and the last lines of its stderr.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::death_worker;

namespace {

asio::awaitable<rp::connection<death_worker>> spawn_death_worker(std::string name) {
  auto conn =
      co_await rp::spawn<death_worker>(rp::shutdown_on::connection_closed,
                                       rp::spawn_options().with_name(std::move(name)), rp::unit{});
  co_return conn;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

asio::awaitable<void> send_signal(pid_t pid, int signal) {
  BOOST_REQUIRE(::kill(pid, signal) == 0);
  co_return;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  BOOST_REQUIRE_MESSAGE(out, "cannot write " + text + " to " + path);
}

// A memory cgroup of its own with a limit, under cgroup v1's memory hierarchy or else v2's,
// removed again at the end (once the processes in it are gone).
class limited_memory_cgroup {
 public:
  explicit limited_memory_cgroup(std::uint64_t limit) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line, v1, v2;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string skip, point, field, type, source, options;
      fields >> skip >> skip >> skip >> skip >> point >> skip;
      while (fields >> field && field != "-") {
      }
      fields >> type >> source >> options;
      if (type == "cgroup" && has("," + options + ",", ",memory,")) v1 = point;
      if (type == "cgroup2") v2 = point;
    }
    std::string name = "/rpcp-oom-" + std::to_string(::getpid());
    if (!v1.empty()) {
      directory_ = v1 + name;
      std::filesystem::create_directory(directory_);
      write_file(directory_ + "/memory.limit_in_bytes", std::to_string(limit));
      if (std::filesystem::exists(directory_ + "/memory.memsw.limit_in_bytes"))
        write_file(directory_ + "/memory.memsw.limit_in_bytes", std::to_string(limit));
    } else {
      BOOST_REQUIRE_MESSAGE(!v2.empty(), "no memory cgroup hierarchy is mounted");
      write_file(v2 + "/cgroup.subtree_control", "+memory");
      directory_ = v2 + name;
      std::filesystem::create_directory(directory_);
      write_file(directory_ + "/memory.max", std::to_string(limit));
      write_file(directory_ + "/memory.swap.max", "0");
    }
  }
  ~limited_memory_cgroup() {
    // A cgroup with a process left in it cannot be removed: the worker's exit may lag its
    // report by a moment.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::rmdir(directory_.c_str()) != 0 && errno == EBUSY &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string& directory() const { return directory_; }
  /// Starts a local worker inside the cgroup (its shell joins it, then execs the worker).
  rp::how_to_run how() const {
    return rp::how_to_run::local().wrap(
        {"sh", "-c", "echo $$ > " + directory_ + "/cgroup.procs && exec \"$0\" \"$@\""});
  }

 private:
  std::string directory_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(death_report_suite)

BOOST_AUTO_TEST_CASE(a_worker_killed_by_sigkill_is_reported_as_such) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_death_worker("killed");
    auto pid = static_cast<pid_t>(co_await conn.run(death_worker::pid));
    BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
    auto result = co_await conn.try_run(death_worker::pid);
    BOOST_REQUIRE(!result);
    const std::string& text = result.error().message;
    BOOST_TEST((result.error().kind == rp::error_kind::disconnected));
    BOOST_TEST(has(text, "the worker process " + std::to_string(pid) + " died: killed by SIGKILL"),
               text);
    BOOST_TEST(has(text, "it had lived"), text);
  });
}

BOOST_AUTO_TEST_CASE(an_abort_reports_sigabrt_the_last_stderr_line_and_a_stack_trace) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_death_worker("aborted");
    auto result = co_await conn.try_run(death_worker::abort_after, "last words before abort");
    BOOST_REQUIRE(!result);
    const std::string& text = result.error().message;
    BOOST_TEST(has(text, "died: killed by SIGABRT (Aborted)"), text);
    BOOST_TEST(has(text, "last words before abort"), text);
    BOOST_TEST(has(text, "abort_after_printing"), text);
    BOOST_TEST(has(text, "calls in flight: death_worker.abort_after"), text);
  });
}

BOOST_AUTO_TEST_CASE(a_write_to_a_protected_page_reports_sigsegv_with_its_stack_trace) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_death_worker("segfaulted");
    auto result = co_await conn.try_run(death_worker::write_protected, 7);
    BOOST_REQUIRE(!result);
    const std::string& text = result.error().message;
    BOOST_TEST(has(text, "died: killed by SIGSEGV (Segmentation fault)"), text);
    BOOST_TEST(has(text, "write_to_protected_page"), text);
  });
}

BOOST_AUTO_TEST_CASE(exit_called_by_a_plain_function_reports_its_status) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_death_worker("exited");
    auto result = co_await conn.try_run(death_worker::exit_with, 3);
    BOOST_REQUIRE(!result);
    const std::string& text = result.error().message;
    BOOST_TEST(has(text, "died: it called exit(3)"), text);
  });
}

BOOST_AUTO_TEST_CASE(a_signal_sent_to_a_busy_worker_is_named_with_its_sender_and_peak_rss) {
  tests::run([]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto conn = co_await spawn_death_worker("terminated");
    auto pid = static_cast<pid_t>(co_await conn.run(death_worker::pid));
    auto call = conn.try_run(death_worker::sleep, 10'000);
    auto signal = send_signal(pid, SIGHUP);  // SIGTERM would make it leave gracefully
    auto result = co_await (std::move(call) && std::move(signal));
    BOOST_REQUIRE(!result);
    const std::string& text = result.error().message;
    BOOST_TEST(
        has(text, "died: killed by SIGHUP (Hangup), sent by process " + std::to_string(::getpid())),
        text);
    BOOST_TEST(has(text, "; its peak RSS was "), text);
    BOOST_TEST(has(text, "calls in flight: death_worker.sleep"), text);
  });
}

BOOST_AUTO_TEST_CASE(a_sigterm_makes_a_busy_worker_leave_and_a_second_one_kills_it_with_its_note) {
  tests::run([]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto conn = co_await spawn_death_worker("leaving");
    auto pid = static_cast<pid_t>(co_await conn.run(death_worker::pid));
    std::optional<rp::error> refused;
    // With two calls sent: the first SIGTERM is not fatal. Once the plain call it interrupted
    // has returned, the worker says it is leaving, and a new call is refused; the second
    // SIGTERM is fatal, and noted.
    auto twice = [](rp::connection<death_worker>& c, pid_t worker,
                    std::optional<rp::error>& refusal) -> asio::awaitable<void> {
      BOOST_REQUIRE(::kill(worker, SIGTERM) == 0);
      asio::steady_timer pause(co_await asio::this_coro::executor);
      for (int i = 0; i < 1000 && !c.is_leaving(); ++i) {
        pause.expires_after(std::chrono::milliseconds(5));
        co_await pause.async_wait(asio::use_awaitable);
      }
      auto another = co_await c.try_run(death_worker::pid);
      if (!another) refusal = another.error();
      BOOST_REQUIRE(::kill(worker, SIGTERM) == 0);
    };
    auto both = [](rp::connection<death_worker>& c) -> asio::awaitable<rp::or_error<rp::unit>> {
      auto first = c.try_run(death_worker::sleep, 200);
      auto second = c.try_run(death_worker::sleep, 10'000);
      auto outcomes = co_await (std::move(first) && std::move(second));
      co_return std::get<1>(outcomes);
    };
    auto calls = both(conn);
    auto signals = twice(conn, pid, refused);
    auto long_one = co_await (std::move(calls) && std::move(signals));
    BOOST_REQUIRE(refused.has_value());
    BOOST_TEST(has(refused->message,
                   "is leaving (it got SIGTERM from process " + std::to_string(::getpid())),
               refused->message);
    BOOST_REQUIRE(!long_one);
    const std::string& text = long_one.error().message;
    BOOST_TEST(has(text, "died: killed by SIGTERM (Terminated), sent by process " +
                             std::to_string(::getpid())),
               text);
  });
}

BOOST_AUTO_TEST_CASE(a_worker_over_its_memory_cgroup_limit_is_reported_out_of_memory) {
  limited_memory_cgroup cgroup(128 << 20);
  tests::run([&cgroup]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<death_worker>(
        rp::shutdown_on::connection_closed,
        rp::spawn_options().with_name("hungry").with_how(cgroup.how()), rp::unit{});
    auto result = co_await conn.try_run(death_worker::allocate_mib, 4096);
    BOOST_REQUIRE(!result);
    const std::string& text = result.error().message;
    BOOST_TEST(has(text,
                   "died: killed by SIGKILL: out of memory (the out-of-memory killer of "
                   "its memory cgroup " +
                       cgroup.directory() + ", limit 128 MiB, killed 1 process(es)"),
               text);
    BOOST_TEST(has(text, "calls in flight: death_worker.allocate_mib"), text);
  });
}

BOOST_AUTO_TEST_CASE(a_worker_closed_by_its_master_is_no_death) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_death_worker("closed");
    auto worker = conn.peer();
    co_await rp::shutdown(worker);
    co_await conn.closed();
    auto result = co_await conn.try_run(death_worker::pid);
    BOOST_REQUIRE(!result);
    BOOST_TEST(!has(result.error().message, "died"), result.error().message);
  });
}

BOOST_AUTO_TEST_CASE(a_heartbeater_timeout_worker_killed_with_no_connection_calls_on_failure_once) {
  rp::rpc_settings settings;
  settings.heartbeat_interval = std::chrono::milliseconds(250);
  settings.heartbeat_timeout = std::chrono::seconds(1);
  tests::run(
      []() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        tests::failure_reports reports(executor);
        auto on_failure = reports.handler();
        auto options = rp::spawn_options().with_name("unwatched").with_on_failure(on_failure);
        auto worker = co_await rp::spawn<death_worker>(rp::shutdown_on::heartbeater_timeout,
                                                       std::move(options), rp::unit{});
        pid_t pid = 0;
        {
          auto conn = co_await rp::connect(worker);
          pid = static_cast<pid_t>(co_await conn.run(death_worker::pid));
        }
        auto killed = std::chrono::steady_clock::now();
        BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
        co_await reports.first(std::chrono::seconds(5));
        BOOST_TEST((std::chrono::steady_clock::now() - killed < std::chrono::seconds(1)));
        // Nothing more comes: one report per death.
        asio::steady_timer quiet(executor, std::chrono::milliseconds(1500));
        co_await quiet.async_wait(asio::use_awaitable);
        BOOST_REQUIRE(reports.all().size() == 1u);
        BOOST_TEST(has(reports.all().front(), "worker \"unwatched\" died: the worker process " +
                                                  std::to_string(pid) + " died: killed by SIGKILL"),
                   reports.all().front());
      },
      std::chrono::seconds(60), settings);
}

BOOST_AUTO_TEST_CASE(a_clean_shutdown_calls_no_on_failure) {
  tests::run([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    auto reports = std::make_shared<std::vector<std::string>>();
    auto on_failure = [reports](const rp::error& e) { reports->push_back(e.message); };
    auto options = rp::spawn_options().with_name("shut").with_on_failure(on_failure);
    auto worker = co_await rp::spawn<death_worker>(rp::shutdown_on::heartbeater_timeout,
                                                   std::move(options), rp::unit{});
    pid_t pid = 0;
    {
      auto conn = co_await rp::connect(worker);
      pid = static_cast<pid_t>(co_await conn.run(death_worker::pid));
    }
    co_await rp::shutdown(worker);
    BOOST_TEST(tests::wait_until_exited(pid, std::chrono::seconds(10)));
    // The link's end and its report (if any) come within a second of the exit.
    asio::steady_timer after(executor, std::chrono::milliseconds(1500));
    co_await after.async_wait(asio::use_awaitable);
    BOOST_TEST(reports->empty());
  });
}

BOOST_AUTO_TEST_SUITE_END()
