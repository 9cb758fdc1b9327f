// When a spawned worker exits; the policy also fixes what `spawn` returns.
#pragma once

namespace rpc_parallel::shutdown_on {

/// The worker exits when the first connection closes; `spawn` opens and returns that connection.
/// Recommended. Rpc_parallel's `Connection_closed`.
struct connection_closed_t {};
inline constexpr connection_closed_t connection_closed{};

/// The worker exits when it loses its master (the master process ends or its host vanishes);
/// `spawn` returns a `worker<W>` to connect to. Rpc_parallel's `Heartbeater_connection_timeout`.
struct heartbeater_timeout_t {};
inline constexpr heartbeater_timeout_t heartbeater_timeout{};

/// The worker lives until `shutdown(worker)`, even past its master: it can be orphaned.
struct called_shutdown_function_t {};
inline constexpr called_shutdown_function_t called_shutdown_function{};

}  // namespace rpc_parallel::shutdown_on

namespace rpc_parallel::detail {
enum class shutdown_policy : unsigned char {
  connection_closed,
  heartbeater_timeout,
  called_shutdown
};
}
