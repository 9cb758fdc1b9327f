// The server side of a worker: accepts authenticated connections and dispatches their calls.
#pragma once

#include "rpc_parallel/detail/busy_call.hpp"
#include "rpc_parallel/detail/call_context.hpp"
#include "rpc_parallel/detail/stream_channel.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/error.hpp"
#include "rpc_parallel/worker_type.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rpc_parallel::detail {

class listener;
class node;

class worker_server : public std::enable_shared_from_this<worker_server> {
 public:
  /// What the server tells its owner (the worker process, or `serve`).
  struct hooks {
    std::function<void()> on_owner_closed;  ///< The `owner` connection closed.
    std::function<void()> on_shutdown;      ///< A client sent `shutdown`.
    std::function<void(rpc_parallel::error)> on_background_failure;  ///< A one-way threw.
    std::function<void()> before_call;  ///< Before each call, stream or one-way starts.
  };

  /// Binds a listening socket on all interfaces and an OS-chosen port; accepts nothing yet.
  /// Connections are accepted on `self`'s guardian thread and served on its executor.
  static std::shared_ptr<worker_server> bind(node& self, const worker_type_entry& type,
                                             std::string id, std::string name);
  ~worker_server();

  /// Starts accepting connections that share `state`.
  void start(std::shared_ptr<void> state, hooks hooks);
  /// Serves an already authenticated connection as if accepted: its first frame must be `open`.
  void adopt(std::shared_ptr<transport> t);
  /// Stops accepting; open connections keep working (Rpc_parallel's `close_server`).
  void close_server() noexcept;
  /// Closes the listener and every connection.
  void stop() noexcept;
  /// The worker is leaving (`why`: it got SIGTERM): stops accepting, tells every client (a
  /// `leaving` frame; each closes its connection once its calls are answered) and calls
  /// `when_alone` once no connection is left. Calls keep being served meanwhile.
  void leave(std::string why, std::function<void()> when_alone);

  std::uint16_t port() const noexcept { return port_; }
  /// Its same-host socket's name (same_host.hpp), or empty.
  const std::string& same_host_name() const noexcept;
  const std::string& id() const noexcept { return id_; }
  bool owner_has_connected() const noexcept { return owner_connected_; }
  /// Connections refused (failed authentication or a bad first frame), for tests.
  std::size_t refused_count() const noexcept { return *refused_; }

 private:
  /// The calls of one connection that can still be cancelled, and the deadline announced for
  /// the next call (a deadline frame comes just before its call).
  struct connection_calls {
    /// Names the connection in cancel requests (busy_call.hpp); sent with its open_ok.
    std::uint64_t token = 0;
    std::uint64_t announced_id = 0;
    clock::time_point announced = no_deadline;
    std::unordered_map<std::uint64_t, std::shared_ptr<call_context>> running;

    /// The deadline of call `id`: the announced one if it was for `id`, else none.
    clock::time_point deadline_of(std::uint64_t id) noexcept;
    void cancel(std::uint64_t id);
    void cancel_all();
  };

  worker_server(node& self, const worker_type_entry& type, std::string id, std::string name);
  boost::asio::awaitable<void> serve_connection(std::shared_ptr<transport> t, bool adopted);
  boost::asio::awaitable<bool> open(std::shared_ptr<transport> t, std::uint64_t token,
                                    std::shared_ptr<void>& conn_state, bool& owner,
                                    bool& control_only);
  void dispatch(const std::shared_ptr<transport>& t, frame f,
                const std::shared_ptr<void>& conn_state, stream_table& streams,
                const std::shared_ptr<connection_calls>& calls);
  void start_call(const std::shared_ptr<transport>& t, frame f,
                  const std::shared_ptr<void>& conn_state,
                  const std::shared_ptr<connection_calls>& calls);
  void start_stream(const std::shared_ptr<transport>& t, frame f,
                    const std::shared_ptr<void>& conn_state, stream_table& streams,
                    const std::shared_ptr<connection_calls>& calls);
  /// Answers `timed_out` for call `id` when its deadline has passed already; true then.
  bool refused_as_expired(transport& t, std::uint64_t id, std::size_t index,
                          clock::time_point deadline);
  /// The context of a coroutine call `id` that can be cancelled: by its caller, and at its
  /// deadline by its own timer.
  std::shared_ptr<call_context> begin_call(std::uint64_t id, clock::time_point deadline,
                                           connection_calls& calls);
  boost::asio::awaitable<void> run_stream(std::shared_ptr<transport> t, std::uint64_t id,
                                          std::size_t index, std::string query,
                                          std::shared_ptr<void> conn_state,
                                          std::shared_ptr<outbound_stream> out,
                                          std::shared_ptr<inbound_stream> in,
                                          std::shared_ptr<call_context> context,
                                          std::shared_ptr<connection_calls> calls);
  boost::asio::awaitable<void> run_async(std::shared_ptr<transport> t, std::uint64_t id,
                                         std::size_t index, std::string query,
                                         std::shared_ptr<void> conn_state, bool one_way,
                                         std::shared_ptr<call_context> context,
                                         std::shared_ptr<connection_calls> calls);
  void finish_call(transport& t, std::uint64_t id, std::size_t index, clock::time_point deadline,
                   std::string reply);
  void report(const std::shared_ptr<transport>& t, std::uint64_t id, std::size_t index,
              bool one_way, clock::time_point deadline = no_deadline);

  node& node_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<listener> listener_;
  const worker_type_entry& type_;
  std::string id_;
  std::string name_;
  std::uint16_t port_ = 0;
  std::shared_ptr<void> state_;
  hooks hooks_;
  bool owner_connected_ = false;
  // Counted on the guardian's thread too, which must never own the server (its state is the
  // user's, destroyed on the user thread).
  std::shared_ptr<std::atomic<std::size_t>> refused_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::vector<std::weak_ptr<transport>> connections_;
  std::vector<std::weak_ptr<transport>> opened_;  ///< Those past `open`: told when leaving.
  std::string leaving_;
  std::function<void()> when_alone_;
  std::uint64_t next_token_ = 1;
  // Shared with the listener's hooks, which run on the guardian's thread.
  std::shared_ptr<busy_call> busy_ = std::make_shared<busy_call>();
};

}  // namespace rpc_parallel::detail
