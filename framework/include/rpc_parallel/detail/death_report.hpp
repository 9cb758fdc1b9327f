// Why a spawned worker died, as the errors its death causes say it.
#pragma once

#include "rpc_parallel/detail/memory_cgroup.hpp"

#include <boost/asio/awaitable.hpp>

#include <sys/types.h>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

class launcher;
class output_relay;

/// What its spawner keeps about a worker to explain its death.
struct worker_record {
  std::string id;
  std::string name;
  pid_t pid = 0;
  bool local = true;                            ///< `pid` is on this host.
  std::shared_ptr<const detail::launcher> via;  ///< How it was started; null for this host.
  std::chrono::steady_clock::time_point started;
  std::uint64_t oom_kills_at_start = 0;  ///< The kernel's count (/proc/vmstat).
  std::optional<memory_cgroup> memory;   ///< A local worker's, read once it is up.
  std::uint64_t cgroup_oom_kills_at_start = 0;
  std::shared_ptr<output_relay> stderr_tail;
  /// spawn_options::kill_unheeded_after, and how to kill it (set by spawn).
  std::chrono::milliseconds kill_unheeded_after{0};
  std::function<void()> kill;
  /// Why its spawner's side killed it, for its death report (set when it does).
  mutable std::string killed_because;
};

/// The kernel's count of processes the out-of-memory killer has killed (0 when unreadable).
std::uint64_t oom_kill_count();

/// After the connection to the worker of `record` ended without a shutdown: waits (briefly) for
/// its stderr to end, then says how it died: the cause from its death note (death_note.hpp), or
/// SIGKILL when it left none (with the OOM killer's part when its memory cgroup, or else the
/// kernel, counted a kill since it started), how long it lived, the calls in flight and the tail of
/// its stderr. Empty when the process is still alive (it closed the connection by itself).
boost::asio::awaitable<std::string> death_report(std::shared_ptr<const worker_record> record,
                                                 std::vector<std::string> in_flight);

}  // namespace rpc_parallel::detail
