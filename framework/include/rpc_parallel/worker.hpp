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

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& host& port& id& type& name;
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

  const worker_ref& ref() const noexcept { return ref_; }
  const std::string& host() const noexcept { return ref_.host; }
  std::uint16_t port() const noexcept { return ref_.port; }
  const std::string& id() const noexcept { return ref_.id; }
  const std::string& name() const noexcept { return ref_.name; }

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& ref_;
  }
  bool operator==(const worker&) const = default;

 private:
  worker_ref ref_;
};

}  // namespace rpc_parallel
