// Map-reduce figures: the framework's cost per trivial item (beside Python's Pool.map, which
// bench/run.sh runs) and the scaling of CPU-bound items over 1..nproc workers.
#pragma once

#include <rpc_parallel/app.hpp>

#include <boost/asio/awaitable.hpp>

namespace bench {

/// Registers the workers of these figures (map_functions.hpp) with the bench app.
void add_map_workers(rpc_parallel::app& app);

/// `rp::map` of x -> x + 1 over 100 000 and 10 000 000 items (1 000 000 when quick) on 2 local
/// workers, spawning included (items/s), and the time from the call to the first result (ms).
boost::asio::awaitable<void> measure_map_overhead(bool quick);
/// `rp::map` of ~10 ms CPU-bound items over 1, 2, 4 ... nproc workers: items/s and efficiency
/// (speed-up over 1 worker / workers).
boost::asio::awaitable<void> measure_map_scaling(bool quick);
/// 1 ms items on 4 workers, one of them slowed down 20 times: the total time with speculation
/// (straggler_factor) and without, against the time with no straggler (straggler.cpp).
boost::asio::awaitable<void> measure_map_straggler(bool quick);

}  // namespace bench
