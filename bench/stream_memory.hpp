// Stream memory figure: a producer far faster than its consumer must not grow either process.
#pragma once

#include <boost/asio/awaitable.hpp>

namespace bench {

/// A worker writes 64 KiB values as fast as the window allows while the master reads one, then
/// waits 99 times as long as reading took when it read flat out (so it consumes 100x slower),
/// for 60 s (5 s when quick). Reports the peak RSS growth of worker and master above start.
boost::asio::awaitable<void> measure_pipe_slow_reader_memory(bool quick);

}  // namespace bench
