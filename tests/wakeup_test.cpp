// The framework's wait primitive: many coroutines may wait on one wakeup, and none resumes
// before it is notified (they used to cancel each other without end).
#include "rpc_parallel/detail/wakeup.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>

namespace asio = boost::asio;
using rpc_parallel::detail::wakeup;

namespace {

/// Waits until `*done`, counting how often it resumed.
asio::awaitable<void> waiter(wakeup& w, const bool& done, int& resumed) {
  while (!done) {
    co_await w.wait();
    ++resumed;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(wakeup_suite)

BOOST_AUTO_TEST_CASE(waiters_sleep_until_notified_and_all_wake) {
  asio::io_context io;
  wakeup w(io.get_executor());
  bool done = false;
  int resumed = 0;
  for (int i = 0; i < 3; ++i) asio::co_spawn(io, waiter(w, done, resumed), asio::detached);
  io.run_for(std::chrono::milliseconds(50));
  BOOST_TEST(resumed == 0);  // nobody was notified: nobody ran
  done = true;
  w.notify();
  io.run_for(std::chrono::milliseconds(50));
  BOOST_TEST(resumed == 3);
  BOOST_TEST(io.stopped());  // every waiter has returned
}

BOOST_AUTO_TEST_SUITE_END()
