// Workers that join a running master by themselves, and the symmetric launch built on them.
#pragma once

#include "rpc_parallel/how_to_run.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace rpc_parallel {

namespace detail {
class join_queue;
}

/// Where joiners find the master. Build it inline: `join_options().with_rendezvous_file(p)`.
struct join_options {
  join_options() = default;  // not an aggregate: see spawn_options

  /// A file to write with this master's addresses, its port and the secret (mode 0600, written
  /// to a temporary name and renamed, so never read half-written; removed when the master
  /// exits): what `APP --rpc-join FILE` reads. It must be on a path the joiners see. Empty: none
  /// (joiners then take `--rpc-join ADDRESS:PORT` and `--rpc-secret-file`).
  std::string rendezvous_file;
  /// A file to write with the secret alone, in hex (mode 0600), for `--rpc-secret-file`.
  std::string secret_file;

  join_options with_rendezvous_file(std::string v) && {
    rendezvous_file = std::move(v);
    return std::move(*this);
  }
  join_options with_secret_file(std::string v) && {
    secret_file = std::move(v);
    return std::move(*this);
  }
};

/// This master open to joiners: a process started by anything as
///   APP --rpc-join FILE|ADDRESS:PORT [--rpc-secret-file F] [--rpc-worker TYPE]
/// connects, proves the secret (a wrong one is refused, and logged here) and waits until a
/// spawn with `how()` takes it. That spawn gives it its name, spawn argument and settings, as
/// for a process the master started; it then serves under `connection_closed` and exits when its
/// connection or this master goes. A copyable handle; call from the master's thread.
class joins {
 public:
  /// Opens joins (again: the same queue), writing the files `options` name. Throws `rpc_error`
  /// when a file cannot be written.
  static joins open(join_options options = {});

  /// For `spawn_options::with_how`, a pool or a map config (`with_remote(joins.how(), n)`): each
  /// spawn with it takes the next joined worker, waiting for one (bounded by `spawn_timeout`
  /// when set), instead of starting a process.
  how_to_run how() const;
  /// "ADDRESS:PORT" for each of this host's addresses (non-loopback first).
  const std::vector<std::string>& addresses() const noexcept { return addresses_; }
  /// Joined workers not yet taken.
  std::size_t waiting() const noexcept;
  /// Waits until `count` joined workers wait to be taken, or `timeout`: whether they do.
  boost::asio::awaitable<bool> wait_for(std::size_t count, std::chrono::milliseconds timeout) const;

 private:
  std::shared_ptr<detail::join_queue> queue_;
  std::vector<std::string> addresses_;
};

/// In a symmetric launch (`srun -n N APP`, `mpirun -n N APP`, or every copy given
/// `--rpc-rank R --rpc-size N`): the copy of rank 0 runs `master_main`, the others join it
/// through the rendezvous file (`--rpc-rendezvous FILE`, by default in $HOME/.rpc_parallel/ named
/// after the job), and this says where they are.
struct symmetric_peers {
  how_to_run how;         ///< `joins::how()` of the master's joins.
  std::size_t count = 0;  ///< N - 1: how many copies join.
};
/// The peers of this symmetric launch; throws `rpc_error` when this master was not started as
/// rank 0 of one.
symmetric_peers peers();

}  // namespace rpc_parallel
