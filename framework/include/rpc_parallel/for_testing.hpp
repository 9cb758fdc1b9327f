// Hooks for test binaries, which must be able to act as workers like any app.
#pragma once

#include "rpc_parallel/app.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace rpc_parallel::for_testing {

/// Call first in a test binary's main: in a spawned worker, serves the worker role and returns
/// its exit code; in the test process itself, returns nullopt.
std::optional<int> run_worker_if_spawned(const app& types);

/// The stream ends alive in this process that still hold state: reading ends, and writing
/// ends that have not sent their end. Every stream that ended on both sides is counted nowhere.
std::int64_t open_stream_ends() noexcept;

/// Runs `body` with fresh master state on a fresh io_context. Throws `rpc_error` (timed_out) if
/// it has not finished within `deadline`, so a hang fails the test instead of blocking CI.
void run(const app& types, std::function<boost::asio::awaitable<void>()> body,
         std::chrono::seconds deadline = std::chrono::seconds(60), rpc_settings settings = {});

}  // namespace rpc_parallel::for_testing
