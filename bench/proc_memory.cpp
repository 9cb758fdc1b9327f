#include "proc_memory.hpp"

#include <malloc.h>
#include <fstream>
#include <string>

namespace bench {

resident_memory memory_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  resident_memory m;
  std::string key;
  std::uint64_t kib = 0;
  while (status >> key) {
    if (key == "VmRSS:" && status >> kib) m.now = kib * 1024;
    if (key == "VmHWM:" && status >> kib) m.peak = kib * 1024;
  }
  return m;
}

bool reset_peak_memory() {
  ::malloc_trim(0);
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";  // 5: reset the peak resident set size (Linux >= 4.0)
  clear_refs.flush();
  return clear_refs.good();
}

}  // namespace bench
