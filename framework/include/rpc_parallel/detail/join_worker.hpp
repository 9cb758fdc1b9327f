// The worker side of a join: a process started by anything finds its master (an address, or a
// rendezvous file it waits for), proves the secret, takes the configuration the master gives it
// and serves as a spawned worker would.
#pragma once

#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/rpc_settings.hpp"

#include <chrono>
#include <string>

namespace rpc_parallel::detail {

struct join_settings {
  /// "HOST:PORT", or the path of a rendezvous file (which also holds the secret).
  std::string target;
  /// The secret in hex; empty: $RPC_PARALLEL_SECRET, else the rendezvous file's.
  std::string secret_file;
  /// The worker type it serves; empty: whichever the master says.
  std::string type;
  /// How long it may take to find and reach the master (the rendezvous file's appearing
  /// included); the wait to be taken by a spawn is not limited.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  /// Who is waiting, for messages ("rank 3 of 4").
  std::string who = "this worker";
  rpc_settings settings;
};

/// Joins and serves; returns the exit code (2 with a message on stderr when it cannot join).
int run_join_role(const type_registry& types, join_settings s);

}  // namespace rpc_parallel::detail
