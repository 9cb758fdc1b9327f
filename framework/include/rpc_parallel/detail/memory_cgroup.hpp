// The memory cgroup a process belongs to (cgroup v1's memory controller, or v2's unified tree),
// read for its out-of-memory kills: the evidence that a SIGKILLed worker ran out of memory.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <optional>
#include <string>

namespace rpc_parallel::detail {

class memory_cgroup {
 public:
  /// The memory cgroup of `pid` (a live process on this host), when one is mounted and its
  /// counters are readable.
  static std::optional<memory_cgroup> of(pid_t pid);

  /// Its directory, e.g. /sys/fs/cgroup/memory/jobs/7.
  const std::string& directory() const noexcept { return directory_; }
  /// How many processes the kernel's out-of-memory killer has killed in it (memory.events or
  /// memory.oom_control: "oom_kill N"); 0 when the kernel does not count them.
  std::uint64_t oom_kills() const;
  /// Its memory limit, "64 MiB", or empty when it has none.
  std::string limit() const;

 private:
  memory_cgroup(std::string directory, bool unified)
      : directory_(std::move(directory)), unified_(unified) {}

  std::string directory_;
  bool unified_;  // cgroup v2: memory.events and memory.max
};

}  // namespace rpc_parallel::detail
