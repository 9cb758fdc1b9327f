// How far a map-reduce call has got, for a progress callback.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace rpc_parallel {

struct map_progress {
  std::uint64_t done = 0;       ///< Items whose results are in.
  std::uint64_t in_flight = 0;  ///< Items sent to a worker and not answered yet.
  std::uint64_t retried = 0;    ///< Items sent again because their worker was lost.
  std::uint64_t timed_out = 0;  ///< Items sent again because their batch passed its deadline.
  std::size_t workers = 0;      ///< Workers still alive.
  std::optional<std::uint64_t> total;  ///< Number of inputs, when the input range knows it.
  std::chrono::steady_clock::duration elapsed{};
};

}  // namespace rpc_parallel
