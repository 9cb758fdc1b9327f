// Stream throughput figures: small values and bulk bytes through a pipe, beside their floors.
#pragma once

#include <boost/asio/awaitable.hpp>

namespace bench {

/// 8-byte values through a pipe (values/s) beside `one_write_per_message` (messages/s).
boost::asio::awaitable<void> measure_pipe_small_values(bool quick);
/// One 64 MiB value, then 1 GiB as 1 MiB chunks (256 MiB when quick), through a pipe (MB/s)
/// beside `tcp_copy` of the same size.
boost::asio::awaitable<void> measure_pipe_bulk(bool quick);

}  // namespace bench
