// Every error caused by a worker's death says how it died: the signal or exit status, its stack
// trace when it could write one, the calls in flight, and the last lines of its stderr.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>

namespace asio = boost::asio;
namespace rp = rpc_parallel;
using tests::death_worker;

namespace {

asio::awaitable<rp::connection<death_worker>> spawn_death_worker(std::string name) {
  auto conn = co_await rp::spawn<death_worker>(rp::shutdown_on::connection_closed,
                                               rp::spawn_options().with_name(std::move(name)),
                                               rp::unit{});
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

BOOST_AUTO_TEST_CASE(a_null_pointer_write_reports_sigsegv_with_its_stack_trace) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_death_worker("segfaulted");
    auto result = co_await conn.try_run(death_worker::write_null, 7);
    BOOST_REQUIRE(!result);
    const std::string& text = result.error().message;
    BOOST_TEST(has(text, "died: killed by SIGSEGV (Segmentation fault)"), text);
    BOOST_TEST(has(text, "write_through_null_pointer"), text);
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

BOOST_AUTO_TEST_SUITE_END()
