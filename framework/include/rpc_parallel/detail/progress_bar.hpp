// The progress line a map-reduce call draws on a terminal.
#pragma once

#include "rpc_parallel/map_progress.hpp"

#include <string>

namespace rpc_parallel::detail {

/// One line: bar (or count), rate, ETA, and what went wrong so far. Starts with '\r'.
std::string progress_line(const map_progress& p, bool last);

}  // namespace rpc_parallel::detail
