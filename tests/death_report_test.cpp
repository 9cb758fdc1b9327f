// Every error caused by a worker's death says how it died: the signal or exit status, its stack
// trace when it could write one, the calls in flight, and the last lines of its stderr.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>

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
        auto reports = std::make_shared<std::vector<std::string>>();
        auto reported =
            std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
        auto on_failure = [reports, reported](const rp::error& e) {
          reports->push_back(e.message);
          reported->cancel();
        };
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
        boost::system::error_code ec;
        reported->expires_after(std::chrono::seconds(5));
        co_await reported->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        BOOST_TEST((std::chrono::steady_clock::now() - killed < std::chrono::seconds(1)));
        // Nothing more comes: one report per death.
        asio::steady_timer quiet(executor, std::chrono::milliseconds(1500));
        co_await quiet.async_wait(asio::use_awaitable);
        BOOST_REQUIRE(reports->size() == 1u);
        BOOST_TEST(has(reports->front(), "worker \"unwatched\" died: the worker process " +
                                             std::to_string(pid) + " died: killed by SIGKILL"),
                   reports->front());
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
