#include "rpc_parallel/map_reduce.hpp"

#include <unistd.h>
#include <thread>

namespace rpc_parallel {

map_config::map_config() : local(std::max(1u, std::thread::hardware_concurrency())) {}

namespace detail {

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

}  // namespace detail
}  // namespace rpc_parallel
