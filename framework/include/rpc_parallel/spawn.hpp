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
// The public entry points below are plain functions that move their arguments into a request
// and return a coroutine taking only that request, so no argument of theirs is a temporary
// living across a suspension in a coroutine frame (see docs/gcc12_coroutines.md).
template <worker_type W>
std::shared_ptr<const spawn_request> make_request(spawn_options& options, const spawn_arg_t<W>& arg,
                                                  shutdown_policy policy, bool foreground) {
  auto r = std::make_shared<spawn_request>(
      spawn_request{&worker_type_of<W>(), std::move(options), {}, policy, foreground});
  encode(arg, r->spawn_arg);
  return r;
}

template <worker_type W>
std::string encode_connection_arg(const connection_arg_t<W>& arg) {
  std::string bytes;
  encode(arg, bytes);
  return bytes;
}

template <worker_type W>
boost::asio::awaitable<connection<W>> spawn_connected(std::shared_ptr<const spawn_request> request,
                                                      std::string arg) {
  auto spawned = co_await spawn_connected_worker(std::move(request), std::move(arg));
  co_return connection<W>(std::move(spawned.owner));
}

template <worker_type W>
boost::asio::awaitable<worker<W>> spawn_unconnected(std::shared_ptr<const spawn_request> request) {
  auto spawned = co_await spawn_worker(std::move(request));
  co_return worker<W>(std::move(spawned.worker));
}
}  // namespace detail

/// Spawns a daemonised worker (double fork, setsid) that exits when the returned connection
/// closes. Throws `rpc_error` with the spawn's context: the worker's start-up stderr, the text
/// of an exception from `init_worker_state` or `init_connection_state`, or `timed_out`.
template <worker_type W>
boost::asio::awaitable<connection<W>> spawn(shutdown_on::connection_closed_t, spawn_options options,
                                            const spawn_arg_t<W>& arg,
                                            const connection_arg_t<W>& connection_arg) {
  return detail::spawn_connected<W>(
      detail::make_request<W>(options, arg, detail::shutdown_policy::connection_closed, false),
      detail::encode_connection_arg<W>(connection_arg));
}

/// `spawn` under connection_closed with a default-constructed connection argument. (Overloads,
/// not default arguments: see connection.hpp.)
template <worker_type W>
boost::asio::awaitable<connection<W>> spawn(shutdown_on::connection_closed_t policy,
                                            spawn_options options, const spawn_arg_t<W>& arg) {
  return spawn<W>(policy, std::move(options), arg, connection_arg_t<W>{});
}

/// Spawns a daemonised worker that exits when this process ends (or its host vanishes).
template <worker_type W>
boost::asio::awaitable<worker<W>> spawn(shutdown_on::heartbeater_timeout_t, spawn_options options,
                                        const spawn_arg_t<W>& arg) {
  return detail::spawn_unconnected<W>(
      detail::make_request<W>(options, arg, detail::shutdown_policy::heartbeater_timeout, false));
}

/// Spawns a daemonised worker that lives until `shutdown(worker)`, even past this process.
template <worker_type W>
boost::asio::awaitable<worker<W>> spawn(shutdown_on::called_shutdown_function_t,
                                        spawn_options options, const spawn_arg_t<W>& arg) {
  return detail::spawn_unconnected<W>(
      detail::make_request<W>(options, arg, detail::shutdown_policy::called_shutdown, false));
}

/// Any `spawn` without its spawn argument: a default-constructed one (for worker types that
/// declare no `spawn_arg`).
template <worker_type W, class Policy>
auto spawn(Policy policy, spawn_options options) {
  return spawn<W>(policy, std::move(options), spawn_arg_t<W>{});
}

/// Any `spawn` returning the error instead of throwing.
template <worker_type W, class Policy, class... Args>
auto try_spawn(Policy policy, spawn_options options, const Args&... args) {
  return detail::try_awaitable([&] { return spawn<W>(policy, std::move(options), args...); });
}

/// What `spawn_in_foreground` returns: the connection or worker, and the child process.
template <class T>
struct foreground {
  T value;
  worker_process process;
};

namespace detail {
template <worker_type W>
boost::asio::awaitable<foreground<connection<W>>> spawn_foreground_connected(
    std::shared_ptr<const spawn_request> request, std::string arg) {
  auto spawned = co_await spawn_connected_worker(std::move(request), std::move(arg));
  co_return foreground<connection<W>>{connection<W>(std::move(spawned.owner)),
                                      std::move(*spawned.process)};
}

template <worker_type W>
boost::asio::awaitable<foreground<worker<W>>> spawn_foreground_unconnected(
    std::shared_ptr<const spawn_request> request) {
  auto spawned = co_await spawn_worker(std::move(request));
  co_return foreground<worker<W>>{worker<W>(std::move(spawned.worker)),
                                  std::move(*spawned.process)};
}
}  // namespace detail

/// Spawns a worker that stays this process's child (no daemonising): its stdout and stderr are
/// pipes in `process`, which the caller reads and `wait`s. On failure nothing is left running.
template <worker_type W>
boost::asio::awaitable<foreground<connection<W>>> spawn_in_foreground(
    shutdown_on::connection_closed_t, spawn_options options, const spawn_arg_t<W>& arg,
    const connection_arg_t<W>& connection_arg) {
  return detail::spawn_foreground_connected<W>(
      detail::make_request<W>(options, arg, detail::shutdown_policy::connection_closed, true),
      detail::encode_connection_arg<W>(connection_arg));
}

/// `spawn_in_foreground` under connection_closed with a default-constructed connection argument.
template <worker_type W>
boost::asio::awaitable<foreground<connection<W>>> spawn_in_foreground(
    shutdown_on::connection_closed_t policy, spawn_options options, const spawn_arg_t<W>& arg) {
  return spawn_in_foreground<W>(policy, std::move(options), arg, connection_arg_t<W>{});
}

/// The foreground form for the heartbeat and shutdown-function policies.
template <worker_type W, class Policy>
  requires std::same_as<Policy, shutdown_on::heartbeater_timeout_t> ||
           std::same_as<Policy, shutdown_on::called_shutdown_function_t>
boost::asio::awaitable<foreground<worker<W>>> spawn_in_foreground(Policy, spawn_options options,
                                                                  const spawn_arg_t<W>& arg) {
  auto policy = std::same_as<Policy, shutdown_on::heartbeater_timeout_t>
                    ? detail::shutdown_policy::heartbeater_timeout
                    : detail::shutdown_policy::called_shutdown;
  return detail::spawn_foreground_unconnected<W>(
      detail::make_request<W>(options, arg, policy, true));
}

/// Any `spawn_in_foreground` without its spawn argument: a default-constructed one.
template <worker_type W, class Policy>
auto spawn_in_foreground(Policy policy, spawn_options options) {
  return spawn_in_foreground<W>(policy, std::move(options), spawn_arg_t<W>{});
}

/// Any `spawn_in_foreground` returning the error instead of throwing.
template <worker_type W, class Policy, class... Args>
auto try_spawn_in_foreground(Policy policy, spawn_options options, const Args&... args) {
  return detail::try_awaitable(
      [&] { return spawn_in_foreground<W>(policy, std::move(options), args...); });
}

/// Asks the worker to exit (a served one: to stop serving) and waits until it has closed the
/// connection. Throws `rpc_error`: disconnected when it cannot be reached, timed_out when it has
/// not closed within handshake_timeout (busy in a plain function: it exits once that returns).
template <worker_type W>
boost::asio::awaitable<void> shutdown(worker<W> w) {
  return detail::shutdown_worker(w.ref());
}

/// `shutdown` returning the error instead of throwing.
template <worker_type W>
boost::asio::awaitable<or_error<void>> try_shutdown(worker<W> w) {
  return detail::catch_error(shutdown(std::move(w)));
}

}  // namespace rpc_parallel
