#include "host_facts.hpp"

#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace rpc_parallel::detail {
namespace {

// Spawns run on any thread that runs an io_context: every access takes the lock.
struct facts {
  std::mutex mutex;
  std::set<std::pair<std::string, std::string>> checked_copies;  // (host key, path)
  std::map<std::string, std::string> addresses;                  // by host key
};

facts& known() {
  static facts f;
  return f;
}

}  // namespace

void remember_checked_copy(const std::string& host_key, const std::string& path) {
  facts& f = known();
  std::lock_guard lock(f.mutex);
  f.checked_copies.emplace(host_key, path);
}

bool is_checked_copy(const std::string& host_key, const std::string& path) {
  facts& f = known();
  std::lock_guard lock(f.mutex);
  return f.checked_copies.contains({host_key, path});
}

void forget_checked_copy(const std::string& host_key, const std::string& path) {
  facts& f = known();
  std::lock_guard lock(f.mutex);
  f.checked_copies.erase({host_key, path});
}

void remember_address_seen_from(const std::string& host_key, const std::string& address) {
  facts& f = known();
  std::lock_guard lock(f.mutex);
  f.addresses.insert_or_assign(host_key, address);
}

std::optional<std::string> address_seen_from(const std::string& host_key) {
  facts& f = known();
  std::lock_guard lock(f.mutex);
  auto it = f.addresses.find(host_key);
  if (it == f.addresses.end()) return std::nullopt;
  return it->second;
}

}  // namespace rpc_parallel::detail
