// Resident memory of a process, from /proc/<pid>/status, for the memory figures.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace bench {

/// Resident set now (VmRSS) and its peak (VmHWM), in bytes; zeros when `pid` is gone.
struct resident_memory {
  std::uint64_t now = 0;
  std::uint64_t peak = 0;
};
resident_memory memory_of(pid_t pid);

/// Returns freed heap to the system (malloc_trim) and restarts this process's VmHWM at its
/// VmRSS (/proc/self/clear_refs); false when the kernel refused the reset.
bool reset_peak_memory();

}  // namespace bench
