// The serialisable address of a worker server: pass it to another worker to let it connect.
#pragma once

#include "rpc_parallel/rpc_settings.hpp"
#include "rpc_parallel/worker_type.hpp"

#include <cstdint>
#include <string>

namespace rpc_parallel {

/// A worker server of any type: where it listens, its id, type and name. One process may host
/// several worker servers (see `serve`); the id tells them apart and is checked at connect.
struct worker_ref {
  std::string host;
  std::uint16_t port = 0;
  std::string id;    ///< 128 random bits in hex, made by the spawner.
  std::string type;  ///< The worker type's `name`.
  std::string name;  ///< The spawn option `name`, or empty.
  /// Its same-host socket (a Unix-domain socket named after its host and network namespace):
  /// callers there use it instead of `host:port`; empty when it has none.
  std::string same_host;

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& host& port& id& type& name& same_host;
  }
  bool operator==(const worker_ref&) const = default;
};

/// "name (type) at host:port", for error messages.
std::string describe(const worker_ref& worker);

/// A worker server of type `W`: a value, copyable and serialisable (Rpc_parallel's `Worker.t`).
template <class W>
class worker {
 public:
  worker() = default;
  explicit worker(worker_ref ref) : ref_(std::move(ref)) {}

  // Called on a temporary (`conn.peer().ref()`), these return copies: a reference bound to
  // the result then lives as long as the reference, not the temporary.
  const worker_ref& ref() const& noexcept { return ref_; }
  worker_ref ref() && { return std::move(ref_); }
  const std::string& host() const& noexcept { return ref_.host; }
  std::string host() && { return std::move(ref_.host); }
  std::uint16_t port() const noexcept { return ref_.port; }
  const std::string& id() const& noexcept { return ref_.id; }
  std::string id() && { return std::move(ref_.id); }
  const std::string& name() const& noexcept { return ref_.name; }
  std::string name() && { return std::move(ref_.name); }

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& ref_;
  }
  bool operator==(const worker&) const = default;

 private:
  worker_ref ref_;
};

}  // namespace rpc_parallel
