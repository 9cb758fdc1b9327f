// Whole master programs that lifetime tests run as separate processes (`--scenario NAME`).
#pragma once

#include <string>

namespace tests {

/// Runs scenario `name` as a master and returns its exit code; 2 for an unknown name.
int run_scenario(const std::string& name);

}  // namespace tests
