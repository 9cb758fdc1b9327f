// `APP --rpc-status [PID] [--json]` and `APP --rpc-stacks [PID] [--json]`: the app's binary as
// the tool that asks a running master of this user's what it is doing (status_endpoint.hpp).
#pragma once

#include <string>
#include <vector>

namespace rpc_parallel::detail {

/// Whether argv asks for the tool (it holds --rpc-status or --rpc-stacks).
bool asks_for_status_tool(int argc, char** argv);

/// Finds the master (the one given by PID, else the only one of this user's that runs), asks it
/// and prints its answer, as text or as the JSON itself. Returns the exit code: 0, or 2 with
/// what went wrong on stderr.
int run_status_tool(int argc, char** argv);

}  // namespace rpc_parallel::detail
