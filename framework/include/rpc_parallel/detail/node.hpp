// The per-process runtime: executor, secret, settings, registered worker types, and the
// servers this process runs. Created by start_app / expert / for_testing; one at a time.
#pragma once

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/log_hub.hpp"
#include "rpc_parallel/rpc_settings.hpp"
#include "rpc_parallel/worker_type.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rpc_parallel::detail {

class guardian;
class master_server;
class worker_server;

/// The worker types of an app, by name.
using type_registry = std::map<std::string, const worker_type_entry*, std::less<>>;

struct node_config {
  secret key{};
  rpc_settings settings;
  /// argv after the program for spawned workers: the hidden marker under start_app, the user's
  /// subcommand under expert.
  std::vector<std::string> worker_command;
  bool pass_name = true;  ///< Append "child-of-PID@HOST" and the worker name to worker argv.
  type_registry types;
  /// A worker's node: it passes its trace spans to its master rather than writing the file.
  bool serves_as_worker = false;
};

struct worker_record;
class trace_file;

class node {
 public:
  /// Throws `rpc_error` when a master cannot create its settings' trace file.
  node(boost::asio::any_io_executor executor, node_config config);
  /// A master's trace file is complete once it is gone.
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The node of this process. Throws `rpc_error` when none exists, saying how to make one.
  static node& current();
  /// The node of this process, or null.
  static node* current_or_null() noexcept;

  /// This process's log and its subscribers.
  log_hub& logs() noexcept { return logs_; }

  /// The user thread's executor: user code and the framework's upper layers run on it.
  const boost::asio::any_io_executor& executor() const noexcept { return executor_; }
  /// This process's framework thread (guardian.hpp).
  detail::guardian& guardian() noexcept { return *guardian_; }
  const node_config& config() const noexcept { return config_; }
  const secret& key() const noexcept { return config_.key; }
  const rpc_settings& settings() const noexcept { return config_.settings; }

  /// The registered type named `name`; throws `rpc_error` (unimplemented) naming it.
  const worker_type_entry& type(std::string_view name) const;

  /// The server workers register with; started on first use (Rpc_parallel's lazy master server).
  detail::master_server& master_server();

  /// Keeps a worker server alive for as long as this node (or until it closes itself).
  void adopt(std::shared_ptr<worker_server> server);
  std::shared_ptr<worker_server> find_server(std::string_view worker_id) const;

  /// Keeps what explains the death of worker `id`, spawned here, while it lives.
  void remember(const std::string& id, std::shared_ptr<const worker_record> record);
  /// The record of worker `id`, or null (not spawned here, or known dead).
  std::shared_ptr<const worker_record> record_of(const std::string& id) const;

  /// In a symmetric launch's master: how many copies join it (rpc_parallel::peers).
  std::optional<std::size_t> symmetric_peers;

 private:
  boost::asio::any_io_executor executor_;
  node_config config_;
  // Before the servers: they accept on its thread, so it is destroyed after them.
  std::unique_ptr<detail::guardian> guardian_;
  std::shared_ptr<detail::master_server> master_server_;
  std::vector<std::shared_ptr<worker_server>> servers_;
  log_hub logs_;
  std::unordered_map<std::string, std::shared_ptr<const worker_record>> records_;
  std::unique_ptr<trace_file> trace_file_;
  node* previous_;
};

/// "child-of-PID@HOST", the argv decoration that names a worker's spawner in `ps`.
std::string child_of_decoration();
std::string host_name();
/// 128 random bits in hex.
std::string make_worker_id();

}  // namespace rpc_parallel::detail
