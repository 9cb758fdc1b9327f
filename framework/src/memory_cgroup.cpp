#include "rpc_parallel/detail/memory_cgroup.hpp"

#include <unistd.h>
#include <fstream>
#include <sstream>
#include <vector>

namespace rpc_parallel::detail {
namespace {

struct mount {
  std::string root;   // the part of the hierarchy mounted there (not "/" inside a namespace)
  std::string point;  // where
};

// Where this process sees the cgroup hierarchy with the memory controller: cgroup v1's
// ("cgroup" with the "memory" option) when `unified` is false, else cgroup v2's.
std::optional<mount> hierarchy(bool unified) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount-point options [optional...] - type source super-options
    std::istringstream fields(line);
    std::string id, parent, device, root, point, options, field;
    fields >> id >> parent >> device >> root >> point >> options;
    while (fields >> field && field != "-") {
    }
    std::string type, source, super_options;
    fields >> type >> source >> super_options;
    if (unified && type == "cgroup2") return mount{root, point};
    if (!unified && type == "cgroup" &&
        ("," + super_options + ",").find(",memory,") != std::string::npos)
      return mount{root, point};
  }
  return std::nullopt;
}

std::optional<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  return line;
}

bool readable(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

// "64 MiB" (or bytes, KiB, GiB, TiB).
std::string byte_size_text(std::uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  std::ostringstream text;
  text.precision(value < 10 && unit > 0 ? 2 : 0);
  text << std::fixed << value << " " << units[unit];
  return text.str();
}

}  // namespace

std::optional<memory_cgroup> memory_cgroup::of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, v1_path, v2_path;
  bool has_v2 = false;
  // Lines "id:controllers:path"; cgroup v2's is "0::path".
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      has_v2 = true;
      v2_path = path;
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      v1_path = path;
    }
  }
  auto at = [](const mount& m, const std::string& path) {
    std::string relative = path;
    if (m.root != "/" && relative.rfind(m.root, 0) == 0) relative = relative.substr(m.root.size());
    return m.point + (relative == "/" ? "" : relative);
  };
  if (!v1_path.empty()) {
    if (auto m = hierarchy(false)) {
      std::string directory = at(*m, v1_path);
      if (readable(directory + "/memory.oom_control")) return memory_cgroup(directory, false);
    }
  }
  if (has_v2) {
    if (auto m = hierarchy(true)) {
      std::string directory = at(*m, v2_path);
      if (readable(directory + "/memory.events")) return memory_cgroup(directory, true);
    }
  }
  return std::nullopt;
}

std::uint64_t memory_cgroup::oom_kills() const {
  std::ifstream in(directory_ + (unified_ ? "/memory.events" : "/memory.oom_control"));
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value)
    if (key == "oom_kill") return value;
  return 0;
}

std::string memory_cgroup::limit() const {
  auto text = read_first_line(directory_ + (unified_ ? "/memory.max" : "/memory.limit_in_bytes"));
  if (!text || *text == "max") return {};
  std::uint64_t bytes = 0;
  try {
    bytes = std::stoull(*text);
  } catch (...) {
    return {};
  }
  // cgroup v1 writes "no limit" as the largest page-aligned 63-bit value.
  if (bytes >= (std::uint64_t{1} << 62)) return {};
  return byte_size_text(bytes);
}

}  // namespace rpc_parallel::detail
