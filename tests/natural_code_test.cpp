// Code written the natural way: braced aggregates, designated initializers and by-value
// capturing lambdas inline in co_await expressions, co_return T{...}, structured bindings of a
// co_await result, on the master and inside a worker's coroutine. g++ 12 destroys such
// temporaries twice (docs/gcc12_coroutines.md), so this binary is built with clang only; the
// sanitize leg runs it under ASan + UBSan, where a double destruction is a report.
#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <rpc_parallel/joins.hpp>
#include <rpc_parallel/remote.hpp>
#include <rpc_parallel/slurm.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace rp = rpc_parallel;
namespace asio = boost::asio;
using tests::job;
using tests::natural_worker;

namespace {
// Longer than any small-string buffer: a string destroyed twice frees its heap memory twice.
const std::string text = "a string well beyond the small-string buffer";

asio::awaitable<rp::connection<natural_worker>> spawn_natural(std::string prefix) {
  auto c = co_await rp::spawn<natural_worker>(rp::shutdown_on::connection_closed,
                                              rp::spawn_options().with_name("natural"), prefix);
  co_return c;
}

asio::awaitable<job> doubled(std::string t) { co_return job{t + t, 2}; }

std::string repeated(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(natural_code_suite)

BOOST_AUTO_TEST_CASE(braced_and_designated_aggregates_inline_in_run) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_natural("p-");
    std::string a = co_await c.run(natural_worker::render, job{text, 3});
    BOOST_TEST(a == "p-" + repeated(text, 3));
    std::string b = co_await c.run(natural_worker::render, {.text = text, .repeat = 2});
    BOOST_TEST(b == "p-" + repeated(text, 2));
    std::string d = co_await c.run(natural_worker::render, {text});
    BOOST_TEST(d == "p-" + text);
    std::int64_t renders = co_await c.run(natural_worker::renders);
    BOOST_TEST(renders == 3);  // the state is move-only, made by init_worker_state
  });
}

BOOST_AUTO_TEST_CASE(co_return_of_a_braced_aggregate_on_both_sides) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_natural("q-");
    job grown = co_await c.run(natural_worker::grow, job{text, 2});
    BOOST_TEST(grown.text == "q-" + text);
    BOOST_TEST(grown.repeat == 4);
    job local = co_await doubled(text);
    BOOST_TEST(local.text == text + text);
    BOOST_TEST(local.repeat == 2);
  });
}

BOOST_AUTO_TEST_CASE(by_value_lambda_inline_in_with_client) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_natural("w-");
    std::string label = "label beyond the small-string buffer: ";
    // A connection_closed worker accepts further connections while its first one is open.
    std::string r = co_await rp::with_client(
        c.peer(), rp::unit{},
        [label](rp::connection<natural_worker>& peer) -> asio::awaitable<std::string> {
          std::string rendered = co_await peer.run(natural_worker::render, job{label + text, 1});
          co_return rendered;
        });
    BOOST_TEST(r == "w-" + label + text);
  });
}

BOOST_AUTO_TEST_CASE(by_value_producer_lambda_inline_in_a_reverse_pipe) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_natural("j-");
    std::vector<std::string> parts{text + "1", text + "2", text + "3"};
    std::string joined =
        co_await c.run(natural_worker::join, rp::unit{},
                       [parts](rp::stream_writer<std::string> w) -> asio::awaitable<void> {
                         for (const auto& part : parts)
                           if (!co_await w.write(part)) co_return;
                         w.close();
                       });
    BOOST_TEST(joined == "j-" + parts[0] + "+" + parts[1] + "+" + parts[2] + "+");
  });
}

// `conn.peer()` is a temporary: what its accessors return must not point into it.
static_assert(!std::is_reference_v<decltype(std::declval<rp::worker<natural_worker>>().ref())>);
static_assert(!std::is_reference_v<decltype(std::declval<rp::worker<natural_worker>>().host())>);

BOOST_AUTO_TEST_CASE(a_reference_to_a_temporary_handles_field_stays_valid) {
  tests::run([]() -> asio::awaitable<void> {
    auto conn = co_await spawn_natural(text);
    const rp::worker_ref& ref = conn.peer().ref();
    const std::string& name = conn.peer().name();
    BOOST_TEST(ref.name == "natural");
    BOOST_TEST(name == "natural");
    BOOST_TEST(ref.id == conn.peer().id());
  });
}

BOOST_AUTO_TEST_CASE(structured_bindings_of_a_co_await_result) {
  tests::run([]() -> asio::awaitable<void> {
    auto c = co_await spawn_natural("s-");
    auto [length, echoed] = co_await c.run(natural_worker::measure, text);
    BOOST_TEST(length == static_cast<std::int64_t>(text.size()));
    BOOST_TEST(echoed == text);
  });
}

BOOST_AUTO_TEST_CASE(the_same_forms_inside_a_worker_coroutine) {
  tests::run([]() -> asio::awaitable<void> {
    auto relay = co_await spawn_natural("A-");
    auto target = co_await spawn_natural("B-");
    std::string out = co_await relay.run(natural_worker::relay, {target.peer(), text});
    std::string a = "B-" + text + text, b = "B-A-" + text, d = "B-A-" + text;
    std::string all = a + b + d;
    BOOST_TEST(out == std::to_string(all.size()) + ":" + all);
  });
}

// An options setter returns its object by value: a reference bound to a chain of setters on a
// temporary extends the result's life (a returned `T&&` would dangle at the semicolon), and
// `o = std::move(o).with_x(v)` assigns from a fresh object rather than moving `o` into itself.
static_assert(std::is_same_v<decltype(rp::spawn_options().with_name("")), rp::spawn_options>);
static_assert(std::is_same_v<decltype(rp::spawn_options().with_cd("")), rp::spawn_options>);
static_assert(std::is_same_v<decltype(rp::call_options().with_timeout({})), rp::call_options>);
static_assert(std::is_same_v<decltype(rp::pool_options().with_size(1)), rp::pool_options>);
static_assert(std::is_same_v<decltype(rp::map_config().with_local(1)), rp::map_config>);
static_assert(std::is_same_v<decltype(rp::join_options().with_secret_file("")), rp::join_options>);
static_assert(std::is_same_v<decltype(rp::ssh_options().with_user("")), rp::ssh_options>);
static_assert(std::is_same_v<decltype(rp::copy_options().with_dir("")), rp::copy_options>);
static_assert(
    std::is_same_v<decltype(rp::slurm::options().with_partition("")), rp::slurm::options>);

BOOST_AUTO_TEST_CASE(a_reference_bound_to_inline_options_outlives_the_statement) {
  tests::run([]() -> asio::awaitable<void> {
    const auto& options = rp::spawn_options().with_name("natural-" + text).with_cd("/tmp");
    auto c = co_await rp::spawn<natural_worker>(rp::shutdown_on::connection_closed, options, "r-");
    BOOST_TEST(c.peer().name() == "natural-" + text);
    std::string rendered = co_await c.run(natural_worker::render, job{text, 1});
    BOOST_TEST(rendered == "r-" + text);
  });
}

BOOST_AUTO_TEST_CASE(options_built_in_steps_by_assigning_a_setter_to_themselves_keep_every_step) {
  auto options = rp::spawn_options().with_env("FIRST", text);
  options = std::move(options).with_cd(text);
  options = std::move(options).with_env("SECOND", text).with_name(text);
  BOOST_TEST(options.cd == text);
  BOOST_TEST(options.name == text);
  BOOST_TEST_REQUIRE(options.env.size() == 2U);
  BOOST_TEST(options.env[0].first == "FIRST");
  BOOST_TEST(options.env[1].second == text);

  auto config = rp::map_config().with_local(3);
  config = std::move(config).with_worker_options(rp::spawn_options().with_name(text));
  BOOST_TEST(config.local == 3U);
  BOOST_TEST(config.worker_options.name == text);
}

BOOST_AUTO_TEST_SUITE_END()
