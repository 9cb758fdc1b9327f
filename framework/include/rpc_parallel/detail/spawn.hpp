// The untyped spawn, serve and shutdown that the typed templates call.
#pragma once

#include "rpc_parallel/shutdown_on.hpp"
#include "rpc_parallel/spawn_options.hpp"
#include "rpc_parallel/worker.hpp"
#include "rpc_parallel/worker_process.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>

namespace rpc_parallel::detail {

struct spawn_request {
  const worker_type_entry* type = nullptr;
  spawn_options options;
  std::string spawn_arg;
  shutdown_policy policy = shutdown_policy::heartbeater_timeout;
  bool foreground = false;
};

class transport;

struct spawn_result {
  worker_ref worker;
  std::optional<worker_process> process;  ///< Foreground only.
  /// Under connection_closed: the registration link, to be opened as the owner connection.
  std::shared_ptr<transport> link;
};

/// Launches a worker, relays its start-up stderr, waits for it to register and initialise.
/// Throws `rpc_error` with the spawn's context; leaves no process or zombie behind on failure.
boost::asio::awaitable<spawn_result> spawn_worker(std::shared_ptr<const spawn_request> request);

class client;

struct connected_spawn {
  std::shared_ptr<client> owner;  ///< The first connection: the worker exits when it closes.
  std::optional<worker_process> process;  ///< Foreground only.
};

/// `spawn_worker` under shutdown_on::connection_closed, then opens the first connection. If that
/// fails (init_connection_state threw), the worker is shut down before the error is thrown.
boost::asio::awaitable<connected_spawn> spawn_connected_worker(
    std::shared_ptr<const spawn_request> request, std::string connection_arg);

/// Runs a worker server of `type` inside this process.
boost::asio::awaitable<worker_ref> serve_worker(const worker_type_entry& type,
                                                std::string spawn_arg);

/// Asks the worker to exit (a served one: to stop) and waits until it has closed the connection.
boost::asio::awaitable<void> shutdown_worker(worker_ref worker);

/// What a spawn does with a worker's failure when its options set no `on_failure`: prints it
/// to stderr.
void print_failure(const rpc_parallel::error& e);

}  // namespace rpc_parallel::detail
