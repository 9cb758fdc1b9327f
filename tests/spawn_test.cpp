// spawn, spawn_in_foreground and their failures, with real worker processes.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::echo_worker;
using tests::unit;

namespace {

/// Swaps std::cerr into a string for one scope (the stderr relay writes through std::cerr).
class capture_cerr {
 public:
  explicit capture_cerr(std::ostream& stream = std::cerr)
      : stream_(stream), old_(stream.rdbuf(text_.rdbuf())) {}
  ~capture_cerr() { stream_.rdbuf(old_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostream& stream_;
  std::ostringstream text_;
  std::streambuf* old_;
};

/// Lines of `text` that start with `prefix`, without it.
std::vector<std::string> lines_after(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(prefix, 0) == 0) found.push_back(line.substr(prefix.size()));
  return found;
}

struct unregistered_worker {
  static constexpr std::string_view name = "unregistered_worker";
  using spawn_arg = unit;
  struct state {};
  static state init_worker_state(unit) { return {}; }
  static constexpr rp::rpc<unregistered_worker, unit, unit> nothing{"nothing"};
  static void implement(rp::implementations<unregistered_worker>& impl) {
    impl.add(nothing, [](state&, unit) { return unit{}; });
  }
};

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

/// Lowers this process's soft descriptor limit for one scope.
class descriptor_limit {
 public:
  explicit descriptor_limit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &old_);
    rlimit lowered = old_;
    lowered.rlim_cur = soft;
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~descriptor_limit() { ::setrlimit(RLIMIT_NOFILE, &old_); }

 private:
  rlimit old_{};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(spawn_suite)

BOOST_AUTO_TEST_CASE(spawned_worker_answers_typed_calls) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_name("w1"), "w1");
    std::string echoed = co_await conn.run(echo_worker::echo, "hi");
    BOOST_TEST(echoed == "w1:hi");
    std::int64_t calls = co_await conn.run(echo_worker::count, unit{});
    BOOST_TEST(calls == 2);
  });
}

BOOST_AUTO_TEST_CASE(worker_type_with_only_a_name_and_functions_spawns_and_serves) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<tests::minimal_worker>(rp::shutdown_on::connection_closed,
                                                          rp::spawn_options());
    std::int64_t spawned = co_await conn.run(tests::minimal_worker::twice, 21);
    BOOST_TEST(spawned == 42);
    auto served = co_await rp::serve<tests::minimal_worker>();
    auto local = co_await rp::connect(served);
    std::int64_t in_process = co_await local.run(tests::minimal_worker::twice, 4);
    BOOST_TEST(in_process == 8);
  });
}

BOOST_AUTO_TEST_CASE(env_values_round_trip_exactly_and_marker_is_cleared) {
  tests::run([]() -> asio::awaitable<void> {
    const std::string tricky = R"(potentially "problematic" \"test\" string ()! $HOME `x` 'q')";
    auto options = rp::spawn_options().with_env("TEST_ENV_KEY", tricky).with_env("EMPTY_KEY", "");
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                std::move(options), "env");
    std::string value = co_await conn.run(echo_worker::getenv, "TEST_ENV_KEY");
    BOOST_TEST(value == tricky);
    std::string empty = co_await conn.run(echo_worker::getenv, "EMPTY_KEY");
    BOOST_TEST(empty == "");
    std::string missing = co_await conn.run(echo_worker::getenv, "SHOULD_NOT_EXIST");
    BOOST_TEST(missing == "<none>");
    std::string marker = co_await conn.run(echo_worker::getenv, "RPC_PARALLEL_IS_WORKER");
    BOOST_TEST(marker == "<none>");
  });
}

BOOST_AUTO_TEST_CASE(env_key_that_conflicts_with_the_framework_is_refused) {
  tests::run([]() -> asio::awaitable<void> {
    auto options = rp::spawn_options().with_env("RPC_PARALLEL_IS_WORKER", "1");
    auto result = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                                      std::move(options), std::string("x"));
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().message.find("conflicts with rpc_parallel machinery") !=
               std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(wrapped_worker_runs_through_its_wrappers) {
  tests::run([]() -> asio::awaitable<void> {
    auto how = rp::how_to_run::local().wrap({"env", "INNER=1"}).wrap({"env", "OUTER=2"});
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_how(how), "wrapped");
    std::string inner = co_await conn.run(echo_worker::getenv, "INNER");
    std::string outer = co_await conn.run(echo_worker::getenv, "OUTER");
    BOOST_TEST(inner == "1");
    BOOST_TEST(outer == "2");
    auto argv = co_await conn.run(echo_worker::argv);
    BOOST_REQUIRE(argv.size() >= 2u);
    BOOST_TEST(argv[1] == "RPC_PARALLEL_WORKER");

    auto missing = rp::how_to_run::local().wrap({"rpcp-no-such-wrapper"});
    auto result = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                      rp::spawn_options().with_how(missing),
                                                      std::string("x"));
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().message.find("rpcp-no-such-wrapper") != std::string::npos);
    BOOST_TEST(result.error().message.find("is it on PATH?") != std::string::npos);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

// A wrapper that exits without reading stdin leaves the configuration's write with a closed
// pipe. A configuration larger than the pipe's buffer (64 KiB) makes that write certain to fail;
// it must fail as an error of this spawn, not kill the spawner by SIGPIPE.
BOOST_AUTO_TEST_CASE(a_wrapper_that_never_reads_its_configuration_fails_the_spawn_only) {
  tests::run([]() -> asio::awaitable<void> {
    auto quits = rp::how_to_run::local().wrap({"true"});
    std::string large(std::size_t(1) << 20, 'x');
    auto result = co_await rp::try_spawn<echo_worker>(
        rp::shutdown_on::connection_closed,
        rp::spawn_options().with_how(quits).with_connection_timeout(2s), large);
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().message.find("exited with status 0 but no worker registered") !=
                   std::string::npos,
               result.error().message);
    BOOST_TEST(result.error().message.find("how_to_run::wrap") != std::string::npos);
    auto after = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                 rp::spawn_options(), "after");
    std::string cwd = co_await after.run(echo_worker::cwd, unit{});
    BOOST_TEST(cwd == "/");
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(cd_sets_the_worker_directory) {
  tests::run([]() -> asio::awaitable<void> {
    auto in_tmp = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                  rp::spawn_options().with_cd("/tmp"), "cd");
    std::string tmp = co_await in_tmp.run(echo_worker::cwd, unit{});
    BOOST_TEST(tmp == "/tmp");
    auto by_default = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                      rp::spawn_options(), "cd");
    std::string root = co_await by_default.run(echo_worker::cwd, unit{});
    BOOST_TEST(root == "/");
  });
}

BOOST_AUTO_TEST_CASE(umask_option_sets_the_worker_umask) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                rp::spawn_options().with_umask(027), "u");
    std::int64_t mask = co_await conn.run(echo_worker::umask);
    BOOST_TEST(mask == 027);
  });
}

BOOST_AUTO_TEST_CASE(registration_timeout_fails_spawn_and_leaves_nothing_behind) {
  // Several times: whether the worker is killed before it forks, registers too late, or
  // registers after this master is gone is a race; each way must end with no worker.
  for (int round = 0; round < 5; ++round) {
    tests::run([]() -> asio::awaitable<void> {
      auto options = rp::spawn_options().with_name("too-slow").with_connection_timeout(1ms);
      auto result = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::called_shutdown_function,
                                                        std::move(options), std::string("x"));
      BOOST_REQUIRE(result.has_error());
      BOOST_TEST(static_cast<int>(result.error().kind) ==
                 static_cast<int>(rp::error_kind::timed_out));
      BOOST_TEST(result.error().message.find("connection_timeout") != std::string::npos);
    });
  }
  BOOST_TEST(tests::zombie_children().empty());
  // Even a worker that lives until shutdown is gone: its spawn gave up on it.
  BOOST_TEST(tests::wait_until_no_worker_named("too-slow", 5s));
}

BOOST_AUTO_TEST_CASE(init_worker_state_exception_fails_spawn_with_its_text) {
  tests::run([]() -> asio::awaitable<void> {
    auto result = co_await rp::try_spawn<tests::failing_init_worker>(
        rp::shutdown_on::connection_closed, rp::spawn_options().with_name("doomed"),
        std::string("text of expected failure"));
    BOOST_REQUIRE(result.has_error());
    const std::string& text = result.error().message;
    BOOST_TEST(text.find("text of expected failure") != std::string::npos);
    BOOST_TEST(text.find("init_worker_state") != std::string::npos);
    BOOST_TEST(text.find("\"doomed\"") != std::string::npos);
  });
  BOOST_TEST(tests::zombie_children().empty());
  BOOST_TEST(tests::wait_until_no_worker_named("doomed", 5s));
}

BOOST_AUTO_TEST_CASE(unregistered_worker_type_fails_before_any_process_starts) {
  tests::run([]() -> asio::awaitable<void> {
    auto result = co_await rp::try_spawn<unregistered_worker>(rp::shutdown_on::heartbeater_timeout,
                                                              rp::spawn_options(), unit{});
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(static_cast<int>(result.error().kind) ==
               static_cast<int>(rp::error_kind::unimplemented));
    BOOST_TEST(result.error().message.find("app.add_worker<unregistered_worker>()") !=
               std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(output_sent_to_the_spawner_arrives_whole_and_tagged_even_at_exit) {
  capture_cerr out(std::cout), err(std::cerr);
  std::string prefix;
  tests::run([&]() -> asio::awaitable<void> {
    auto options = rp::spawn_options()
                       .with_name("chatty")
                       .with_redirect_stdout(rp::fd_redirection::to_spawner())
                       .with_redirect_stderr(rp::fd_redirection::to_spawner());
    auto w = co_await rp::spawn<echo_worker>(rp::shutdown_on::called_shutdown_function,
                                             std::move(options), std::string("x"));
    auto c = co_await rp::connect(w);
    std::int64_t pid = co_await c.run(echo_worker::pid);
    prefix = "[" + rp::detail::host_name() + " " + std::to_string(pid) + " chatty] ";
    co_await c.run(echo_worker::print_lines, 300);
    c.close();
    co_await rp::shutdown(w);  // it exits right after writing: nothing may be lost
    // The relays end when the exit closes the worker's pipes.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto until = std::chrono::steady_clock::now() + 10s;
    while ((lines_after(out.text(), prefix).size() < 300 ||
            lines_after(err.text(), prefix).size() < 300) &&
           std::chrono::steady_clock::now() < until) {
      timer.expires_after(10ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
  });
  std::vector<std::string> expected_out, expected_err;
  for (int i = 0; i < 300; ++i) {
    expected_out.push_back("out " + std::to_string(i));
    expected_err.push_back("err " + std::to_string(i));
  }
  BOOST_TEST((lines_after(out.text(), prefix) == expected_out));
  BOOST_TEST((lines_after(err.text(), prefix) == expected_err));
}

BOOST_AUTO_TEST_CASE(startup_failure_is_explained_by_the_relayed_stderr) {
  capture_cerr captured;
  tests::run([]() -> asio::awaitable<void> {
    auto options = rp::spawn_options().with_name("badcd").with_cd("/nonexistent/rpcp-test-dir");
    auto result = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                      std::move(options), std::string("x"));
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().message.find("cannot change directory") != std::string::npos);
  });
  // Before it registers a worker has no pid to show: "[HOST - NAME] ".
  BOOST_TEST(captured.text().find(" - badcd] rpc_parallel worker: cannot change directory") !=
             std::string::npos);
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(foreground_startup_failure_carries_the_worker_stderr) {
  tests::run([]() -> asio::awaitable<void> {
    std::string message;
    try {
      auto fg = co_await rp::spawn_in_foreground<echo_worker>(
          rp::shutdown_on::connection_closed, rp::spawn_options().with_cd("/nonexistent/fg"), "x");
    } catch (const rp::rpc_error& e) {
      message = e.what();
    }
    BOOST_TEST(message.find("cannot change directory to \"/nonexistent/fg\"") != std::string::npos);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(redirected_stdout_receives_the_worker_output) {
  std::string path = "/tmp/rpcp-test-stdout-" + std::to_string(::getpid());
  tests::run([path]() -> asio::awaitable<void> {
    auto options =
        rp::spawn_options().with_redirect_stdout(rp::fd_redirection::file_truncate(path));
    auto conn = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                std::move(options), "out");
    conn.send(echo_worker::print, "hello file");
    // Frames on one connection are handled in order, so the print is done once echo answers.
    std::string ignored = co_await conn.run(echo_worker::echo, "sync");
  });
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  BOOST_TEST(line == "hello file");
  ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(spawn_in_foreground_gives_output_and_exit_status_without_zombie) {
  tests::run([]() -> asio::awaitable<void> {
    auto spawned = co_await rp::spawn_in_foreground<echo_worker>(rp::shutdown_on::connection_closed,
                                                                 rp::spawn_options(), "fg");
    spawned.value.send(echo_worker::print, "HELLO");
    spawned.value.send(echo_worker::print, "HELLO2");
    std::string ignored = co_await spawned.value.run(echo_worker::echo, "sync");
    spawned.value.close();
    std::string out = co_await spawned.process.read_stdout();
    int status = co_await spawned.process.wait();
    BOOST_TEST(out == "HELLO\nHELLO2\n");
    BOOST_TEST(status == 0);
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(failed_spawns_leave_no_zombies) {
  tests::run([]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto daemonised = co_await rp::try_spawn<tests::failing_init_worker>(
          rp::shutdown_on::connection_closed, rp::spawn_options(), std::string("fails"));
      BOOST_TEST(daemonised.has_error());
      auto bad_cd = co_await rp::try_spawn<echo_worker>(rp::shutdown_on::heartbeater_timeout,
                                                        rp::spawn_options().with_cd("/nonexistent"),
                                                        std::string("x"));
      BOOST_TEST(bad_cd.has_error());
      bool foreground_failed = false;
      try {
        auto fg = co_await rp::spawn_in_foreground<tests::failing_init_worker>(
            rp::shutdown_on::connection_closed, rp::spawn_options(), "fails");
      } catch (const rp::rpc_error&) {
        foreground_failed = true;
      }
      BOOST_TEST(foreground_failed);
    }
  });
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(spawns_at_the_descriptor_limit_fail_clearly_and_leak_no_descriptor) {
  tests::run(
      []() -> asio::awaitable<void> {
        // The master server exists from here on: count from after the first spawn, whose
        // worker (and so its connection and the tail of its stderr) lives throughout.
        auto first = co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                     rp::spawn_options(), "first");
        std::size_t start = open_descriptors();
        descriptor_limit limit(256);
        auto executor = co_await asio::this_coro::executor;
        std::size_t failures = 0, answers = 0;
        for (int round = 0; round < 5; ++round) {
          constexpr int count = 400;
          int finished = 0;
          asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
          for (int i = 0; i < count; ++i) {
            asio::co_spawn(
                executor,
                [&]() -> asio::awaitable<void> {
                  auto conn = co_await rp::try_spawn<echo_worker>(
                      rp::shutdown_on::connection_closed, rp::spawn_options(), "w");
                  if (conn.has_error()) {
                    ++failures;
                    BOOST_TEST(conn.error().message.find("open files") != std::string::npos,
                               conn.error().message);
                  } else if (co_await conn.value().try_run(echo_worker::echo, "x")) {
                    ++answers;
                  }
                  if (++finished == count) all_done.cancel();
                },
                asio::detached);
          }
          boost::system::error_code ec;
          co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          // Connections closed, the workers exit; their relays and reapers finish soon after.
          asio::steady_timer settle(executor);
          auto deadline = std::chrono::steady_clock::now() + 20s;
          while (open_descriptors() > start && std::chrono::steady_clock::now() < deadline) {
            settle.expires_after(20ms);
            co_await settle.async_wait(asio::use_awaitable);
          }
          BOOST_TEST_REQUIRE(open_descriptors() == start, "round " << round);
        }
        BOOST_TEST(failures > 0u);  // the limit was reached
        BOOST_TEST(answers > 0u);   // and spawns below it still worked
      },
      180s);
  BOOST_TEST(tests::zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(worker_chain_ten_deep_names_each_real_parent) {
  tests::run(
      []() -> asio::awaitable<void> {
        auto root = co_await rp::spawn<tests::chain_worker>(
            rp::shutdown_on::connection_closed, rp::spawn_options().with_name("chain-9"), 9);
        auto chain = co_await root.run(tests::chain_worker::ancestry, unit{});
        BOOST_REQUIRE_EQUAL(chain.size(), 10u);
        std::string host = rp::detail::host_name();
        std::int64_t parent = ::getpid();
        for (std::size_t i = 0; i < chain.size(); ++i) {
          const auto& [pid, argv] = chain[i];
          BOOST_REQUIRE_EQUAL(argv.size(), 4u);
          BOOST_TEST(argv[1] == "RPC_PARALLEL_WORKER");
          BOOST_TEST(argv[2] == "child-of-" + std::to_string(parent) + "@" + host);
          BOOST_TEST(argv[3] == "chain-" + std::to_string(9 - i));
          parent = pid;
        }
      },
      120s);
}

BOOST_AUTO_TEST_CASE(fifty_workers_spawned_concurrently_all_answer) {
  tests::run(
      []() -> asio::awaitable<void> {
        constexpr int count = 50;
        std::vector<std::string> answers(count);
        int finished = 0;
        auto executor = co_await asio::this_coro::executor;
        asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
        for (int i = 0; i < count; ++i) {
          asio::co_spawn(
              executor,
              [&answers, &finished, &all_done, i]() -> asio::awaitable<void> {
                try {
                  auto conn =
                      co_await rp::spawn<echo_worker>(rp::shutdown_on::connection_closed,
                                                      rp::spawn_options(), "w" + std::to_string(i));
                  answers[i] = co_await conn.run(echo_worker::echo, "ping");
                } catch (const std::exception& e) {
                  answers[i] = e.what();
                }
                if (++finished == count) all_done.cancel();
              },
              asio::detached);
        }
        boost::system::error_code ec;
        co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        for (int i = 0; i < count; ++i) BOOST_TEST(answers[i] == "w" + std::to_string(i) + ":ping");
      },
      120s);
}

BOOST_AUTO_TEST_SUITE_END()
