// Transport settings shared by both ends of every connection of one application.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpc_parallel {

/// Settings of every connection. The master fixes them once (the `app::run` argument, then the
/// `--rpc-*` command-line options, then the environment variable `RPC_PARALLEL_RPC_SETTINGS`,
/// each field by field) and hands them to every worker it spawns. Heartbeat durations are
/// rounded down to whole seconds (at least 1) for the kernel. Heartbeats are TCP keepalives
/// answered by the kernel, so a process busy in a long computation never looks dead, while a dead
/// peer process is seen at once (FIN/RST) and a vanished peer host after `heartbeat_timeout`.
struct rpc_settings {
  std::uint64_t max_message_size = 100 * 1024 * 1024;  ///< Checked from each frame's header.
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds heartbeat_interval = std::chrono::seconds(1);
  std::chrono::milliseconds heartbeat_timeout = std::chrono::seconds(5);
  /// Bytes a stream's writer may have sent beyond what its reader consumed (the flow-control
  /// window). Memory held per stream stays below this plus one value.
  std::uint64_t stream_window = 8 * 1024 * 1024;
  /// The deadline of a plain call (`run`, `try_run`) that has none of its own and inherits
  /// none; zero (the default): no limit (call_options.hpp).
  std::chrono::milliseconds call_timeout = std::chrono::milliseconds(0);
  /// Metrics (docs/observability.md), off unless one of these is set: every process counts
  /// its calls, bytes, workers and map-reduce items, and the master serves them all in
  /// Prometheus' text format on `metrics_address:metrics_port` (0: any free port, which it
  /// prints), or writes them to `metrics_file` as it exits.
  int metrics_port = -1;
  std::string metrics_address = "127.0.0.1";
  std::string metrics_file;
  bool metrics() const noexcept { return metrics_port >= 0 || !metrics_file.empty(); }
  /// The framework's messages, `write_log`'s and every worker's stderr lines go to the master's
  /// stderr as JSON lines (docs/observability.md), for log shippers.
  bool json_logs = false;
  /// Where the master writes the app's trace (docs/observability.md): spans of every spawn,
  /// call (on both sides), stream and map-reduce batch, in the Trace Event format that
  /// ui.perfetto.dev opens. Empty (the default): no tracing, in any process.
  std::string trace_file;
  /// Connections between processes of one host (and network namespace) use a Unix-domain
  /// socket instead of loopback TCP: same frames and handshake, fewer kernel passes per call.
  /// Off: every connection is TCP. Connections to other hosts are TCP either way.
  bool same_host_sockets = true;

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    std::int64_t handshake = handshake_timeout.count(), interval = heartbeat_interval.count(),
                 timeout = heartbeat_timeout.count(), call = call_timeout.count();
    archive& max_message_size& handshake& interval& timeout& stream_window& call;
    archive& metrics_port& metrics_address& metrics_file& json_logs& trace_file;
    archive& same_host_sockets;
    handshake_timeout = std::chrono::milliseconds(handshake);
    heartbeat_interval = std::chrono::milliseconds(interval);
    heartbeat_timeout = std::chrono::milliseconds(timeout);
    call_timeout = std::chrono::milliseconds(call);
  }
  bool operator==(const rpc_settings&) const = default;
};

/// The name of the environment variable the master reads: `key=value` pairs separated by commas,
/// e.g. `heartbeat_timeout=8s,max_message_size=1500`. Durations take `ms` or `s`.
inline constexpr std::string_view rpc_settings_env_var = "RPC_PARALLEL_RPC_SETTINGS";

/// `s` if every field is usable; throws `rpc_error` naming the rule otherwise.
rpc_settings validate(rpc_settings s);

/// `base` with each field named in `text` replaced. Throws `rpc_error` naming a bad field.
rpc_settings override_rpc_settings(rpc_settings base, std::string_view text);

/// `base` overridden by `RPC_PARALLEL_RPC_SETTINGS` when it is set.
rpc_settings rpc_settings_from_environment(rpc_settings base);

/// The settings in the environment variable's syntax (every field).
std::string to_string(const rpc_settings& settings);

}  // namespace rpc_parallel
