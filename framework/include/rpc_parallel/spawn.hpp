// Spawning workers: daemonised or in the foreground, under a shutdown policy; and shutdown.
#pragma once

#include "rpc_parallel/connection.hpp"
#include "rpc_parallel/detail/spawn.hpp"
#include "rpc_parallel/shutdown_on.hpp"
#include "rpc_parallel/spawn_options.hpp"
#include "rpc_parallel/worker_process.hpp"

#include <boost/asio/awaitable.hpp>

namespace rpc_parallel {

namespace detail {
template <worker_type W>
spawn_request make_request(spawn_options options, const typename W::spawn_arg& arg,
                           shutdown_policy policy, bool foreground) {
  spawn_request r{&worker_type_of<W>(), std::move(options), {}, policy, foreground};
  encode(arg, r.spawn_arg);
  return r;
}

template <worker_type W>
boost::asio::awaitable<connection<W>> open_owner(worker_ref worker, const connection_arg_t<W>& arg) {
  std::string bytes;
  encode(arg, bytes);
  co_return connection<W>(
      co_await client::open(std::move(worker), &worker_type_of<W>(), std::move(bytes), {.owner = true}));
}
}  // namespace detail

/// Spawns a daemonised worker (double fork, setsid) that exits when the returned connection
/// closes. Throws `rpc_error` with the spawn's context: the worker's start-up stderr, the text
/// of an exception from `init_worker_state` or `init_connection_state`, or `timed_out`.
template <worker_type W>
boost::asio::awaitable<connection<W>> spawn(shutdown_on::connection_closed_t, spawn_options options,
                                            typename W::spawn_arg arg,
                                            connection_arg_t<W> connection_arg = {}) {
  auto spawned = co_await detail::spawn_worker(detail::make_request<W>(
      std::move(options), arg, detail::shutdown_policy::connection_closed, false));
  co_return co_await detail::open_owner<W>(std::move(spawned.worker), connection_arg);
}

/// Spawns a daemonised worker that exits when this process ends (or its host vanishes).
template <worker_type W>
boost::asio::awaitable<worker<W>> spawn(shutdown_on::heartbeater_timeout_t, spawn_options options,
                                        typename W::spawn_arg arg) {
  auto spawned = co_await detail::spawn_worker(detail::make_request<W>(
      std::move(options), arg, detail::shutdown_policy::heartbeater_timeout, false));
  co_return worker<W>(std::move(spawned.worker));
}

/// Spawns a daemonised worker that lives until `shutdown(worker)`, even past this process.
template <worker_type W>
boost::asio::awaitable<worker<W>> spawn(shutdown_on::called_shutdown_function_t,
                                        spawn_options options, typename W::spawn_arg arg) {
  auto spawned = co_await detail::spawn_worker(detail::make_request<W>(
      std::move(options), arg, detail::shutdown_policy::called_shutdown, false));
  co_return worker<W>(std::move(spawned.worker));
}

/// `spawn` returning the error instead of throwing.
template <worker_type W, class Policy, class... Args>
auto try_spawn(Policy policy, spawn_options options, Args... args)
    -> boost::asio::awaitable<or_error<typename decltype(spawn<W>(policy, options, args...))::value_type>> {
  try {
    co_return co_await spawn<W>(policy, std::move(options), std::move(args)...);
  } catch (...) {
    co_return current_exception_error();
  }
}

/// What `spawn_in_foreground` returns: the connection or worker, and the child process.
template <class T>
struct foreground {
  T value;
  worker_process process;
};

/// Spawns a worker that stays this process's child (no daemonising): its stdout and stderr are
/// pipes in `process`, which the caller reads and `wait`s. On failure nothing is left running.
template <worker_type W>
boost::asio::awaitable<foreground<connection<W>>> spawn_in_foreground(
    shutdown_on::connection_closed_t, spawn_options options, typename W::spawn_arg arg,
    connection_arg_t<W> connection_arg = {}) {
  auto spawned = co_await detail::spawn_worker(detail::make_request<W>(
      std::move(options), arg, detail::shutdown_policy::connection_closed, true));
  auto conn = co_await detail::open_owner<W>(std::move(spawned.worker), connection_arg);
  co_return foreground<connection<W>>{std::move(conn), std::move(*spawned.process)};
}

/// The foreground form for the heartbeat and shutdown-function policies.
template <worker_type W, class Policy>
  requires std::same_as<Policy, shutdown_on::heartbeater_timeout_t> ||
           std::same_as<Policy, shutdown_on::called_shutdown_function_t>
boost::asio::awaitable<foreground<worker<W>>> spawn_in_foreground(Policy, spawn_options options,
                                                                  typename W::spawn_arg arg) {
  auto policy = std::same_as<Policy, shutdown_on::heartbeater_timeout_t>
                    ? detail::shutdown_policy::heartbeater_timeout
                    : detail::shutdown_policy::called_shutdown;
  auto spawned = co_await detail::spawn_worker(detail::make_request<W>(std::move(options), arg, policy, true));
  co_return foreground<worker<W>>{worker<W>(std::move(spawned.worker)), std::move(*spawned.process)};
}

/// Asks the worker to exit (a served one: to stop serving) and waits until it has closed the
/// connection. Throws `rpc_error` (disconnected) when it cannot be reached.
template <worker_type W>
boost::asio::awaitable<void> shutdown(worker<W> w) {
  return detail::shutdown_worker(w.ref());
}

}  // namespace rpc_parallel
