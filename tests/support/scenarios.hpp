// Whole master programs that lifetime tests run as separate processes (`--scenario NAME`).
#pragma once

#include <string>
#include <vector>

namespace tests {

/// Runs scenario `name` as a master and returns its exit code; 2 for an unknown name. Scenarios
/// run through app::run get `args` as their command line.
int run_scenario(const std::string& name, const std::vector<std::string>& args = {});

}  // namespace tests
