// main of every test binary: a spawned worker serves first; otherwise Boost.Test runs.
#include "support/scenarios.hpp"
#include "support/test_app.hpp"

#include <rpc_parallel/for_testing.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace {
bool init_unit_test() { return true; }
}  // namespace

int main(int argc, char** argv) {
  if (auto code = rpc_parallel::for_testing::run_worker_if_spawned(tests::app())) return *code;
  if (argc >= 3 && std::string(argv[1]) == "--scenario")
    return tests::run_scenario(argv[2], std::vector<std::string>(argv + 3, argv + argc));
  // The framework's own options (`--rpc-join ...`): as any app's main would take them.
  if (argc >= 2 && std::string(argv[1]).rfind("--rpc-", 0) == 0)
    return tests::run_scenario("app", std::vector<std::string>(argv + 1, argv + argc));
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
