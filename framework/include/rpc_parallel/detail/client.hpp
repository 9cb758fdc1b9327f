// The untyped client side of a connection to a worker server; `connection<W>` wraps it.
#pragma once

#include "rpc_parallel/detail/call_context.hpp"
#include "rpc_parallel/detail/metrics.hpp"
#include "rpc_parallel/detail/stream_channel.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/error.hpp"
#include "rpc_parallel/worker.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rpc_parallel::detail {

struct worker_record;

/// The first frame on a connection: which worker, which function table, the connection argument.
struct open_request {
  std::string worker_id;
  std::string type;
  std::vector<std::string> signatures;
  std::string connection_arg;
  bool owner = false;         ///< shutdown_on::connection_closed: the worker exits when it closes.
  bool control_only = false;  ///< For `shutdown`: no connection state is made.

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& worker_id& type& signatures& connection_arg& owner& control_only;
  }
};

struct reply {
  enum class status : unsigned char { ok, error, lost, timed_out, cancelled };
  status what = status::lost;
  std::string bytes;  ///< The response, or the encoded error.
};

class client : public std::enable_shared_from_this<client> {
 public:
  struct open_options {
    bool owner = false;
    bool control_only = false;
  };

  /// Connects, authenticates and opens. Throws `rpc_error`: `disconnected` when the worker is
  /// unreachable, `unimplemented` when its function table differs, `failed` with the text of
  /// an exception thrown by `init_connection_state`.
  static boost::asio::awaitable<std::shared_ptr<client>> open(worker_ref worker,
                                                              const worker_type_entry* type,
                                                              std::string connection_arg,
                                                              open_options options);

  /// Opens over the registration link of a worker spawned under connection_closed: that link
  /// becomes its owner connection (no second TCP connection). `on_failure` receives the
  /// worker's background failure reports, which travel on the same link.
  static boost::asio::awaitable<std::shared_ptr<client>> open_over(
      std::shared_ptr<transport> link, worker_ref worker, const worker_type_entry* type,
      std::string connection_arg, std::function<void(rpc_parallel::error)> on_failure);

  /// The index of function `name` in the worker's table (checked equal to ours at open).
  std::uint16_t index_of(std::string_view name) const;
  /// The largest payload the worker accepts.
  std::uint64_t max_message_size() const noexcept;
  /// Throws `rpc_error` (failed) saying that the query of `function` is over max_message_size
  /// and how to raise it.
  [[noreturn]] void refuse_oversized_query(std::string_view function) const;

  /// Sends a call and awaits its reply. Its deadline is the earliest of `deadline` and that of
  /// the call this coroutine serves (call_context.hpp); with neither, `call_timeout` from now
  /// when the settings have one. Throws `rpc_error` with the worker's error, `disconnected`,
  /// `timed_out` at the deadline or `cancelled` (Asio cancellation); both of the last tell the
  /// worker to stop.
  boost::asio::awaitable<std::string> call(call_frame frame, clock::time_point deadline);
  void send_one_way(call_frame frame);

  struct stream_reply {
    std::string bytes;  ///< The reply: empty, or a state RPC's state.
    std::shared_ptr<inbound_stream> stream;
  };
  /// Calls a function whose stream flows to us (pipe, direct pipe, state RPC; frame made like
  /// `call`'s) and returns its reply with the reading end. Throws like `call`. The deadline
  /// (the earliest of `deadline` and an inherited one; `call_timeout` does not bound streams)
  /// bounds the stream too: past it, the reader fails with `timed_out` and the writer is told
  /// to stop.
  boost::asio::awaitable<stream_reply> call_streaming_from(call_frame frame,
                                                           clock::time_point deadline);
  /// Starts a reverse pipe: sends the call and returns its id with the writing end; the
  /// response comes from `reply_of(id)`. When the call is given up (its deadline, a
  /// cancellation), the writing end closes with that error, which the worker's reader sees.
  std::pair<std::uint64_t, std::shared_ptr<outbound_stream>> start_streaming_to(
      call_frame frame, clock::time_point deadline);
  /// The reply of call `id`. Throws like `call`.
  boost::asio::awaitable<std::string> reply_of(std::uint64_t id);
  /// Asks the writer of stream `id` to stop; unknown ids are ignored.
  void abort(std::uint64_t id);
  boost::asio::awaitable<void> close_server();
  /// Asks the worker to exit, then waits until it closes the connection.
  boost::asio::awaitable<void> shutdown_worker();

  void close() noexcept;
  boost::asio::awaitable<void> closed();
  bool is_closed() const noexcept { return !transport_->is_open(); }
  /// The worker said it is leaving (it got SIGTERM): why. New calls fail at once; the
  /// connection closes once the calls in flight are answered, which is no death.
  const std::string& leaving() const noexcept { return leaving_; }
  /// Empty while open; then what calls in flight were told, as a suffix (" (...)" or ": ...").
  const std::string& close_reason() const noexcept { return close_reason_; }
  const worker_ref& peer() const noexcept { return worker_; }
  ~client();

 private:
  client(worker_ref worker, const worker_type_entry* type, std::shared_ptr<transport> transport);
  class reply_initiation;
  /// The completion handler of a `co_await` on a reply. Every awaiting coroutine is an
  /// `asio::awaitable<T>` (on any_io_executor), so this is its one type; not type-erased, which
  /// would also put a cancellation state of its own in the awaiting coroutine's slot (replacing
  /// the handler that gives the call up).
  using reply_handler =
      boost::asio::async_result<boost::asio::use_awaitable_t<>, void(reply)>::handler_type;
  /// A call waiting for its reply; the reply may arrive before anyone awaits it.
  struct pending_call {
    std::uint16_t function = 0;
    std::optional<reply_handler> handler;
    std::optional<reply> early;
    std::optional<boost::asio::steady_timer> timer;  ///< At the call's deadline.
    std::int64_t allowed_ms = -1;  ///< The time it was given, when it has a deadline.
    clock::time_point sent{};      ///< When it went out, if metrics or tracing are on.
  };
  std::uint64_t send_call(call_frame frame, frame_kind kind,
                          clock::time_point deadline = no_deadline);
  /// Ends call `id` for its caller with `r` and tells the worker to stop it.
  void give_up(std::uint64_t id, reply r);
  /// Under spawn_options::kill_unheeded_after, kills the worker unless given-up call `id`
  /// (`what`, for its death report) ends there within that time.
  void watch_unheeded(std::uint64_t id, std::string what);
  /// Kills the worker (watch_unheeded found it set), `why` going into its death report.
  void kill_unheeded(std::string why) noexcept;
  std::string function_name(std::uint16_t function) const;
  /// This process's metrics of `function` (looked up once per function and connection).
  metrics::function_figures& figures_of(std::uint16_t function);
  /// What the caller of `call` is told at its deadline.
  std::string timeout_text(const pending_call& call) const;
  /// Whether `function` is a plain (not coroutine) rpc, which only the guardian can cancel.
  bool runs_plain(std::uint16_t function) const;
  boost::asio::awaitable<reply> await_reply(std::uint64_t id);
  static boost::asio::awaitable<std::shared_ptr<client>> finish_open(
      std::shared_ptr<transport> t, worker_ref worker, const worker_type_entry* type,
      std::vector<std::string> signatures, std::function<void(rpc_parallel::error)> on_failure);
  static boost::asio::awaitable<void> read_replies(std::shared_ptr<client> self);
  void fail_all(const std::string& why);
  /// Closes a connection whose worker is leaving once no call waits for a reply.
  void close_if_left_and_idle();
  /// The functions of the calls waiting for replies, for a death report.
  std::vector<std::string> in_flight() const;

  worker_ref worker_;
  const worker_type_entry* type_;
  std::vector<metrics::function_figures*> figures_;  // by function index, filled as called
  std::shared_ptr<transport> transport_;
  std::uint64_t next_id_ = 1;
  std::uint64_t token_ = 0;  ///< The worker's name for this connection (busy_call.hpp).
  std::unordered_map<std::uint64_t, pending_call> pending_;
  /// Given-up calls whose end on the worker we wait for (watch_unheeded).
  std::unordered_map<std::uint64_t, boost::asio::steady_timer> unheeded_;
  stream_table streams_;
  std::string close_reason_;
  std::string leaving_;
  std::function<void(rpc_parallel::error)> on_failure_;
  /// The worker's record when it was spawned here: its loss is then explained (death_report.hpp).
  std::shared_ptr<const worker_record> record_;
  bool closing_ = false;  ///< We closed it or asked the worker to exit: its end is no death.
  boost::asio::steady_timer closed_;
};

}  // namespace rpc_parallel::detail
