#include "rpc_parallel/map_reduce.hpp"

#include <unistd.h>
#include <iostream>
#include <thread>

namespace rpc_parallel {

map_config::map_config() : local(std::max(1u, std::thread::hardware_concurrency())) {}

namespace detail {

void report_spawn_failure(const std::string& what) {
  std::cerr << "[rpc_parallel] map-reduce goes on without a worker that could not start: " << what
            << std::endl;
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

}  // namespace detail
}  // namespace rpc_parallel
