// How far a map-reduce call has got, for a progress callback.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel {

struct map_progress {
  std::uint64_t done = 0;        ///< Items whose results are in.
  std::uint64_t in_flight = 0;   ///< Items sent to a worker and not answered yet.
  std::uint64_t retried = 0;     ///< Items sent again because their worker was lost.
  std::uint64_t timed_out = 0;   ///< Items whose batch passed the item timeout on a worker.
  std::uint64_t speculated = 0;  ///< Items sent to a second worker as their first was slow.
  std::uint64_t failed = 0;      ///< Items handed to the sink as errors (per-item errors).
  std::size_t workers = 0;       ///< Workers up now.
  std::vector<std::string> excluded_hosts;  ///< Hosts left out, as their workers kept failing.
  std::optional<std::uint64_t> total;       ///< Number of inputs, when the range knows it.
  std::chrono::steady_clock::duration elapsed{};
};

}  // namespace rpc_parallel
