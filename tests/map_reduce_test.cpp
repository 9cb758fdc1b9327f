// Map-reduce: the five operations, per-worker init, early stop, a throwing item, progress.
// Lost, stopped, slow and poisonous workers: map_faults_test.
#include "rpc_parallel/map_reduce.hpp"

#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <ranges>
#include <set>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace rp = rpc_parallel;
using namespace tests;

namespace {

rp::map_config two_workers() { return rp::map_config().with_local(2); }

std::vector<std::int64_t> numbers(std::int64_t n) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(map_reduce_suite)

BOOST_AUTO_TEST_CASE(map_returns_outputs_in_input_order) {
  tests::run([]() -> asio::awaitable<void> {
    auto out = co_await rp::map<add_thousand>(two_workers(), std::views::iota(0, 1000), rp::unit{});
    std::vector<std::int64_t> expected;
    for (std::int64_t i = 0; i < 1000; ++i) expected.push_back(i + 1000);
    BOOST_TEST((out == expected));
  });
}

BOOST_AUTO_TEST_CASE(workers_run_in_root_unless_worker_options_say_otherwise) {
  tests::run([]() -> asio::awaitable<void> {
    std::vector<std::string> variable(4, "RPCP_MAP_MARK");
    auto plain = co_await rp::map<where_mapped>(two_workers(), variable, rp::unit{});
    for (const auto& [cwd, value] : plain) {
      BOOST_TEST(cwd == "/");
      BOOST_TEST(value == "<none>");
    }
    auto config = rp::map_config().with_local(2).with_worker_options(
        rp::spawn_options().with_cd("/tmp").with_env("RPCP_MAP_MARK", "marked"));
    auto placed = co_await rp::map<where_mapped>(std::move(config), variable, rp::unit{});
    BOOST_REQUIRE_EQUAL(placed.size(), 4u);
    for (const auto& [cwd, value] : placed) {
      BOOST_TEST(cwd == "/tmp");
      BOOST_TEST(value == "marked");
    }
  });
}

BOOST_AUTO_TEST_CASE(map_unordered_gives_each_result_with_its_index_once) {
  tests::run([]() -> asio::awaitable<void> {
    std::vector<int> seen(5000, 0);
    bool indexes_match = true;
    auto record = [&](std::uint64_t index, std::int64_t value) {
      indexes_match = indexes_match && value == static_cast<std::int64_t>(index) + 1000;
      ++seen.at(index);
    };
    co_await rp::map_unordered<add_thousand>(rp::map_config().with_local(3),
                                             std::views::iota(0, 5000), rp::unit{}, record);
    BOOST_TEST(indexes_match);
    BOOST_TEST(std::ranges::all_of(seen, [](int n) { return n == 1; }));
  });
}

BOOST_AUTO_TEST_CASE(map_reduce_combines_in_input_order_and_commutative_in_any) {
  tests::run([]() -> asio::awaitable<void> {
    auto config = rp::map_config().with_local(3).with_batch_size(7);
    auto joined =
        co_await rp::map_reduce<concat>(std::move(config), std::views::iota(0, 1000), rp::unit{});
    BOOST_REQUIRE(joined.has_value());
    BOOST_TEST((*joined == numbers(1000)));
    auto total = co_await rp::map_reduce_commutative<sum>(two_workers(),
                                                          std::views::iota(0, 100000), rp::unit{});
    BOOST_TEST(total.value() == 4999950000LL);
    std::vector<std::int64_t> none;
    auto empty = co_await rp::map_reduce_commutative<sum>(two_workers(), none, rp::unit{});
    BOOST_TEST(!empty.has_value());
  });
}

BOOST_AUTO_TEST_CASE(find_map_returns_a_found_value_and_stops_an_endless_input) {
  tests::run([]() -> asio::awaitable<void> {
    auto found = co_await rp::find_map<find_777>(two_workers(), std::views::iota(std::int64_t(0)),
                                                 rp::unit{});
    BOOST_REQUIRE(found.has_value());
    BOOST_TEST(*found % 777 == 0);
    auto missing =
        co_await rp::find_map<find_777>(two_workers(), std::views::iota(0, 700), rp::unit{});
    BOOST_TEST(!missing.has_value());
  });
}

BOOST_AUTO_TEST_CASE(each_worker_initialises_its_state_from_the_parameter) {
  tests::run([]() -> asio::awaitable<void> {
    auto out = co_await rp::map<greet>(rp::map_config().with_local(3), std::views::iota(0, 300),
                                       std::string("hello"));
    std::set<std::string> distinct(out.begin(), out.end());
    BOOST_TEST(out.size() == 300u);
    BOOST_TEST(distinct.size() <= 3u);
    for (const auto& greeting : distinct) BOOST_TEST(greeting.ends_with("] hello"));
  });
}

BOOST_AUTO_TEST_CASE(closing_the_output_early_stops_the_work) {
  tests::run([]() -> asio::awaitable<void> {
    std::int64_t taken = 0;
    auto take_ten = [&taken](std::uint64_t, std::int64_t) { return ++taken < 10; };
    co_await rp::map<add_thousand>(two_workers(), std::views::iota(std::int64_t(0)), rp::unit{},
                                   take_ten);
    BOOST_TEST(taken == 10);
  });
}

BOOST_AUTO_TEST_CASE(a_throwing_item_fails_the_call_naming_its_index) {
  tests::run([]() -> asio::awaitable<void> {
    std::string error;
    try {
      (void)co_await rp::map<fails_on_537>(two_workers(), std::views::iota(0, 1000), rp::unit{});
    } catch (const rp::rpc_error& e) {
      error = e.what();
    }
    BOOST_TEST(error.find("item 537") != std::string::npos);
    BOOST_TEST(error.find("537 is not welcome") != std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(progress_reports_reach_the_total) {
  tests::run([]() -> asio::awaitable<void> {
    rp::map_progress last;
    int reports = 0;
    auto config = rp::map_config().with_local(2).with_on_progress([&](const rp::map_progress& p) {
      last = p;
      ++reports;
    });
    (void)co_await rp::map<add_thousand>(std::move(config), std::views::iota(0, 20000), rp::unit{});
    BOOST_TEST(reports >= 1);
    BOOST_TEST(last.done == 20000u);
    BOOST_TEST(last.total.value_or(0) == 20000u);
    BOOST_TEST(last.in_flight == 0u);
    // Workers up at the end: the call starts on each as soon as it is up, so 20,000 small items
    // may be done before the second one is.
    BOOST_TEST(last.workers >= 1u);
    BOOST_TEST(last.workers <= 2u);
  });
}

BOOST_AUTO_TEST_SUITE_END()
