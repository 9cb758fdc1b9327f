// Typed values on the wire, function tables and errors, without processes.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rp = rpc_parallel;
namespace detail = rpc_parallel::detail;

namespace {
struct point {
  std::int64_t x = 0;
  std::string label;
  std::vector<double> weights;
  template <class Archive>
  void serialize(Archive& a, unsigned) {
    a& x& label& weights;
  }
  bool operator==(const point&) const = default;
};

/// A second type that claims echo_worker's name.
struct other {
  static constexpr std::string_view name = "echo_worker";
  using spawn_arg = rp::unit;
  struct state {};
  static state init_worker_state(rp::unit) { return {}; }
  static void implement(rp::implementations<other>&) {}
};

template <class T>
T round_trip(const T& value) {
  std::string bytes;
  detail::encode(value, bytes);
  return detail::decode<T>(bytes, "value");
}
}  // namespace

BOOST_AUTO_TEST_SUITE(function_suite)

BOOST_AUTO_TEST_CASE(values_round_trip_through_the_codec) {
  BOOST_TEST(round_trip<std::int64_t>(-42) == -42);
  BOOST_TEST(round_trip<double>(2.5) == 2.5);
  BOOST_TEST(round_trip(std::string("with\0nul", 8)) == std::string("with\0nul", 8));
  point p{7, "seven", {0.5, 1.5}};
  BOOST_TEST((round_trip(p) == p));
  std::vector<std::pair<std::int64_t, std::string>> pairs{{1, "a"}, {2, "b"}};
  BOOST_TEST((round_trip(pairs) == pairs));
}

BOOST_AUTO_TEST_CASE(a_vector_of_numbers_travels_as_its_bytes_alone) {
  std::vector<double> weights{0.5, -1.25, 3e300};
  std::string bytes;
  detail::encode(weights, bytes);
  BOOST_TEST_REQUIRE(bytes.size() == weights.size() * sizeof(double));
  BOOST_TEST(std::memcmp(bytes.data(), weights.data(), bytes.size()) == 0);
  BOOST_TEST((detail::decode<std::vector<double>>(bytes, "value") == weights));
  BOOST_TEST(round_trip(std::vector<std::uint8_t>{}).empty());
  std::vector<std::int16_t> shorts{1, -2, 300};
  BOOST_TEST((round_trip(shorts) == shorts));
  // Not vectors of numbers: through Boost.Serialization as before.
  std::vector<bool> flags{true, false, true};
  BOOST_TEST((round_trip(flags) == flags));
  std::vector<std::vector<double>> nested{{1.0}, {}, {2.0, 3.0}};
  BOOST_TEST((round_trip(nested) == nested));
  bool wrong_size = false;
  try {
    (void)detail::decode<std::vector<std::int32_t>>("abcdef", "response");
  } catch (const rp::rpc_error& e) {
    wrong_size = std::string(e.what()).find("malformed response") != std::string::npos;
  }
  BOOST_TEST(wrong_size);
}

BOOST_AUTO_TEST_CASE(malformed_bytes_raise_a_clear_error) {
  std::string bytes;
  detail::encode(std::string("hello"), bytes);
  bool threw = false;
  try {
    (void)detail::decode<point>(bytes.substr(0, 3), "query");
  } catch (const rp::rpc_error& e) {
    threw = std::string(e.what()).find("malformed query") != std::string::npos;
  }
  BOOST_TEST(threw);
  bool wrong_size = false;
  try {
    (void)detail::decode<std::int64_t>("abc", "response");
  } catch (const rp::rpc_error& e) {
    wrong_size = e.kind() == rp::error_kind::failed;
  }
  BOOST_TEST(wrong_size);
}

BOOST_AUTO_TEST_CASE(function_table_lists_typed_signatures_in_declaration_order) {
  const auto& type = detail::worker_type_of<tests::session_worker>();
  BOOST_TEST(type.name == "session_worker");
  auto signatures = type.functions.signatures();
  BOOST_REQUIRE_EQUAL(signatures.size(), 1u);
  BOOST_TEST(signatures[0] ==
             "whoami(rpc_parallel::unit) -> std::__cxx11::basic_string<char, "
             "std::char_traits<char>, std::allocator<char> >");
  const auto& echo = detail::worker_type_of<tests::echo_worker>();
  BOOST_TEST(echo.functions.find("print") >= 0);
  BOOST_TEST((echo.functions.at(static_cast<std::size_t>(echo.functions.find("print"))).kind ==
              detail::function_kind::one_way));
  BOOST_TEST(echo.functions.find("no_such_function") == -1);
}

BOOST_AUTO_TEST_CASE(a_function_name_used_twice_is_refused) {
  detail::function_table table;
  table.add({"f", "f(int) -> int", detail::function_kind::rpc, {}, {}, {}});
  bool threw = false;
  try {
    table.add({"f", "f(long) -> long", detail::function_kind::rpc, {}, {}, {}});
  } catch (const rp::rpc_error& e) {
    threw = std::string(e.what()).find("\"f\" is added twice") != std::string::npos;
  }
  BOOST_TEST(threw);
}

BOOST_AUTO_TEST_CASE(two_worker_types_with_one_name_are_refused) {
  rp::app app;
  app.add_worker<tests::echo_worker>();
  bool threw = false;
  try {
    app.add_worker<other>();
  } catch (const rp::rpc_error& e) {
    threw = std::string(e.what()).find("two worker types are named \"echo_worker\"") !=
            std::string::npos;
  }
  BOOST_TEST(threw);
}

BOOST_AUTO_TEST_CASE(or_error_value_throws_the_rpc_error) {
  rp::or_error<int> failed = rp::error{rp::error_kind::timed_out, "too slow"};
  bool threw = false;
  try {
    (void)failed.value();
  } catch (const rp::rpc_error& e) {
    threw = e.kind() == rp::error_kind::timed_out && std::string(e.what()) == "timed_out: too slow";
  }
  BOOST_TEST(threw);
  auto contextual = rp::with_context({rp::error_kind::failed, "boom"}, "spawn worker \"x\"");
  BOOST_TEST(contextual.message == "spawn worker \"x\": boom");
}

BOOST_AUTO_TEST_CASE(worker_handles_are_values_that_serialise) {
  rp::worker<tests::echo_worker> w(rp::worker_ref{"10.0.0.2", 4242, "abc", "echo_worker", "w1"});
  auto copy = round_trip(w);
  BOOST_TEST((copy == w));
  BOOST_TEST(copy.port() == 4242);
  BOOST_TEST(rp::describe(copy.ref()) == "worker \"w1\" (echo_worker) at 10.0.0.2:4242");
}

BOOST_AUTO_TEST_SUITE_END()
