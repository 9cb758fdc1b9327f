// A process's report on itself (`--rpc-status`, `--rpc-stacks`), and how a master asks its
// workers for theirs: an authenticated connection of its own that the worker's guardian
// answers, so a worker whose user code holds its user thread still answers.
#pragma once

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/rpc_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace boost::json {
class object;
}

namespace rpc_parallel::detail {

/// What an inspection asks for: the byte after the handshake.
enum class inspect_what : unsigned char { status = 1, stacks = 2 };

/// Who this process is, for its report.
struct inspected_identity {
  std::string role;  ///< "master" or "worker"
  std::string id, name, type;
};

/// This process's report, a JSON object: pid, host, role, name and type, resident memory, CPU
/// time, threads, up time, state ("idle", or "busy" with the function and for how long), the
/// calls it serves with their ages, its open stream ends and map-reduce jobs; under `stacks`,
/// the stacks of its user thread and of the calling thread too. Call on the guardian thread.
std::string report_this_process(const inspected_identity& who, inspect_what what);
/// The same, into `out` (the master's own, in its app's report).
void report_this_process_into(boost::json::object& out, const inspected_identity& who,
                              inspect_what what);

/// Asks the worker listening at `address:port` for its report; throws `rpc_error` when it
/// cannot be reached or does not answer within the handshake timeout (twice that for stacks).
boost::asio::awaitable<std::string> inspect_worker(std::string address, std::uint16_t port,
                                                   secret key, rpc_settings settings,
                                                   inspect_what what);

/// The worker's side, after the handshake said `connection_purpose::inspect`: reads the
/// request and writes `report(what)`'s answer. Failures end it quietly (the asker gave up).
boost::asio::awaitable<void> answer_inspection(stream_socket socket,
                                               std::function<std::string(inspect_what)> report,
                                               std::chrono::milliseconds timeout);

}  // namespace rpc_parallel::detail
