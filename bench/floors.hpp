// The physical floors our figures are compared with: raw processes and sockets, no framework.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace bench {

/// Child modes of the bench binary, dispatched before anything else; returns an exit code.
std::optional<int> run_floor_child(int argc, char** argv);

/// Seconds for one posix_spawn of this binary that connects back over loopback and sends a
/// byte, accepted and read by this process; one sample per call.
double spawn_connect_back();
/// Seconds until `count` such children, started at once, have all connected back.
double spawn_connect_back_many(int count);
/// Round-trip times in seconds of 16-byte blocking ping-pongs with a child process.
std::vector<double> tcp_ping_pong(int round_trips);
/// The same over an abstract Unix-domain socket, as same-host links are.
std::vector<double> unix_ping_pong(int round_trips);
/// Messages per second writing 16-byte messages with one write() each to a reading child.
double one_write_per_message(int messages);
/// The same over an abstract Unix-domain socket.
double one_write_per_message_unix(int messages);
/// Bytes per second a child writing `bytes` (in 1 MiB writes) over loopback TCP reaches, read by
/// this process into one reused 1 MiB buffer, or, `into_new_buffer`, into a new buffer of
/// `bytes` (as a received value must land); timed from the go byte this process sends to EOF.
double tcp_copy(std::uint64_t bytes, bool into_new_buffer = false);

}  // namespace bench
