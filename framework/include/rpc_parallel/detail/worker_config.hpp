// What the spawner hands a new worker on its stdin (never argv or environment).
#pragma once

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/fd_redirection.hpp"
#include "rpc_parallel/rpc_settings.hpp"
#include "rpc_parallel/shutdown_on.hpp"

#include <boost/serialization/array.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

/// The environment variable that, together with the argv marker, makes a process a worker.
inline constexpr const char* worker_env_marker = "RPC_PARALLEL_IS_WORKER";
/// argv[1] of a worker spawned under start_app.
inline constexpr const char* worker_argv_marker = "RPC_PARALLEL_WORKER";

struct worker_config {
  std::string type;
  std::string id;
  std::string name;
  std::string master_host;
  std::uint16_t master_port = 0;
  std::string master_same_host;  ///< The master's same-host socket (same_host.hpp), or empty.
  secret key{};
  rpc_settings settings;
  std::vector<std::string> worker_command;
  bool pass_name = true;
  bool daemonize = true;
  std::string cd = "/";
  std::int32_t umask = -1;  ///< -1 keeps the spawner's.
  fd_redirection redirect_stdout;
  fd_redirection redirect_stderr;
  std::int64_t connection_timeout_ms = 10000;
  shutdown_policy policy = shutdown_policy::heartbeater_timeout;
  std::string spawn_arg;
  std::uint64_t leave_above_rss = 0;  ///< spawn_options::leave_above_rss

  template <class Archive>
  void serialize(Archive& a, unsigned /*version*/) {
    a& type& id& name& master_host& master_port& master_same_host& key& settings& worker_command&
        pass_name;
    a& daemonize& cd& umask& redirect_stdout& redirect_stderr& connection_timeout_ms;
    a& policy& spawn_arg& leave_above_rss;
  }
};

/// Sent by a worker on its first connection to the master's server.
struct registration {
  std::string worker_id;
  std::uint16_t port = 0;
  std::int64_t pid = 0;
  std::string same_host;  ///< The worker's same-host socket (same_host.hpp), or empty.
  /// The master's address as the worker dialed it: with `port`, the worker's TCP address
  /// for others on the master's host when it registered on a same-host socket.
  std::string host;

  template <class Archive>
  void serialize(Archive& a, unsigned /*version*/) {
    a& worker_id& port& pid& same_host& host;
  }
};

/// Sent by a worker that joins by itself (`--rpc-join`) as its first frame to the master.
struct join_request {
  std::string type;  ///< The worker type it wants to serve; empty: whichever the master says.
  std::string host;  ///< Its host name.
  std::int64_t pid = 0;

  template <class Archive>
  void serialize(Archive& a, unsigned /*version*/) {
    a& type& host& pid;
  }
};

}  // namespace rpc_parallel::detail
