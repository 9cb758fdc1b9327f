#include "rpc_parallel/detail/worker_server.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/client.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/inspection.hpp"
#include "rpc_parallel/detail/listener.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/trace.hpp"
#include "rpc_parallel/stream.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// With tracing on, the spans this process has are sent just before each reply: its caller has
// the worker's span of a call once it has the call's answer.
void send_error(transport& t, frame_kind kind, std::uint64_t id, const error& e) {
  send_pending_trace(t);
  std::string payload;
  encode(e, payload);
  t.send(kind, id, payload);
}

// Sends a finished reply frame; a response over max_message_size becomes an error reply, so the
// caller learns why and the connection keeps working.
void send_reply(transport& t, std::uint64_t id, std::string reply_frame) {
  std::size_t size = reply_frame.size() - frame_header_size;
  if (size <= t.settings().max_message_size) {
    send_pending_trace(t);
    t.send(std::move(reply_frame));
    return;
  }
  send_error(t, frame_kind::reply_error, id,
             {error_kind::failed,
              "the response of " + std::to_string(size) + " bytes exceeds max_message_size " +
                  std::to_string(t.settings().max_message_size) +
                  "; raise it with app::run's settings, --rpc-max-message-size or " +
                  std::string(rpc_settings_env_var)});
}
// Past its deadline a call's failure is most likely its cancellation's: the error says what
// its caller sees, timed_out.
error blamed_on_deadline(error e, clock::time_point deadline) {
  if (deadline == no_deadline || clock::now() < deadline) return e;
  return {error_kind::timed_out, "its deadline passed while it ran (" + e.message + ")"};
}

}  // namespace

std::shared_ptr<worker_server> worker_server::bind(node& self, const worker_type_entry& type,
                                                   std::string id, std::string name) {
  return std::shared_ptr<worker_server>(
      new worker_server(self, type, std::move(id), std::move(name)));
}

worker_server::worker_server(node& self, const worker_type_entry& type, std::string id,
                             std::string name)
    : node_(self),
      executor_(self.executor()),
      listener_(listener::bind(self.guardian(), self.settings(), self.key(), "")),
      type_(type),
      id_(std::move(id)),
      name_(std::move(name)),
      port_(listener_->port()) {}

const std::string& worker_server::same_host_name() const noexcept {
  return listener_->same_host_name();
}

worker_server::~worker_server() { listener_->close(); }

void worker_server::start(std::shared_ptr<void> state, hooks h) {
  state_ = std::move(state);
  hooks_ = std::move(h);
  listener::hooks accepting;
  std::weak_ptr<worker_server> weak = weak_from_this();
  accepting.on_connection = [weak](std::shared_ptr<transport> t, std::string) {
    if (auto self = weak.lock())
      asio::co_spawn(self->executor_, self->serve_connection(std::move(t), false), asio::detached);
  };
  accepting.on_refused = [refused = refused_](const std::string&, const std::string&) {
    ++*refused;
  };
  accepting.on_cancel = [busy = busy_](const cancel_request& request) { busy->cancel(request); };
  accepting.on_inspect = [who = inspected_identity{"worker", id_, name_, type_.name}](
                             inspect_what what) { return report_this_process(who, what); };
  listener_->start(std::move(accepting));
}

void worker_server::close_server() noexcept { listener_->close(); }

void worker_server::stop() noexcept {
  close_server();
  for (auto& weak : connections_)
    if (auto t = weak.lock()) t->close();
  connections_.clear();
}

void worker_server::leave(std::string why, std::function<void()> when_alone) {
  close_server();
  leaving_ = std::move(why);
  when_alone_ = std::move(when_alone);
  for (auto& weak : opened_)
    if (auto t = weak.lock(); t && t->is_open()) t->send(frame_kind::leaving, 0, leaving_);
  if (opened_.empty() && connections_.empty()) std::exchange(when_alone_, {})();
}

void worker_server::adopt(std::shared_ptr<transport> t) {
  asio::co_spawn(executor_, serve_connection(std::move(t), true), asio::detached);
}

asio::awaitable<void> worker_server::serve_connection(std::shared_ptr<transport> t, bool adopted) {
  auto self = shared_from_this();
  std::erase_if(connections_, [](const std::weak_ptr<transport>& c) { return c.expired(); });
  connections_.push_back(t);
  std::shared_ptr<void> conn_state;
  bool owner = false, control_only = false;
  stream_table streams;
  auto calls = std::make_shared<connection_calls>();
  calls->token = next_token_++;
  std::string why = " (the client closed it)";
  try {
    bool opened = co_await open(t, calls->token, conn_state, owner, control_only);
    if (!opened) {
      ++*refused_;
      co_await t->flush();
      t->close();
      // An adopted link that never opened (the spawner gave up, or died) ends the worker too.
      if (adopted && hooks_.on_owner_closed) hooks_.on_owner_closed();
      co_return;
    }
    opened_.push_back(t);
    if (!leaving_.empty()) t->send(frame_kind::leaving, 0, leaving_);
    while (auto f = co_await t->read()) {
      if (control_only && f->kind != frame_kind::shutdown) break;
      if (streams.route(*f)) continue;
      dispatch(t, std::move(*f), conn_state, streams, calls);
    }
  } catch (const std::exception& e) {
    // A protocol error or a broken connection ends this connection only.
    why = std::string(" (") + e.what() + ")";
  }
  // Nobody waits for the replies any more.
  calls->cancel_all();
  t->close();
  streams.disconnect(why);
  auto gone = [&t](const std::weak_ptr<transport>& c) {
    auto alive = c.lock();
    return !alive || alive == t;
  };
  std::erase_if(connections_, gone);
  std::erase_if(opened_, gone);
  if ((owner || adopted) && hooks_.on_owner_closed) hooks_.on_owner_closed();
  if (when_alone_ && connections_.empty()) std::exchange(when_alone_, {})();
}

asio::awaitable<bool> worker_server::open(std::shared_ptr<transport> t, std::uint64_t token,
                                          std::shared_ptr<void>& conn_state, bool& owner,
                                          bool& control_only) {
  auto first = co_await with_deadline(t->read(), t->settings().handshake_timeout, "open");
  if (!first || first->kind != frame_kind::open) co_return false;
  auto request = decode<open_request>(first->payload, "open request");
  auto refuse = [&](error e, std::vector<std::string> signatures) {
    std::string payload;
    encode(std::make_pair(e, signatures), payload);
    t->send(frame_kind::open_error, 0, payload);
    return false;
  };
  if (request.worker_id != id_)
    co_return refuse({error_kind::failed, "no worker with id " + request.worker_id +
                                              " here: this port now belongs to worker " + id_ +
                                              " (" + type_.name + "); the one you want has exited"},
                     {});
  if (request.type != type_.name)
    co_return refuse({error_kind::unimplemented, "worker " + id_ + " is of type \"" + type_.name +
                                                     "\", not \"" + request.type + "\""},
                     {});
  auto ours = type_.functions.signatures();
  if (!request.control_only && request.signatures != ours)
    co_return refuse({error_kind::unimplemented,
                      "worker type \"" + type_.name + "\" has a different function table"},
                     ours);
  if (!request.control_only) {
    try {
      conn_state =
          co_await type_.init_connection_state(state_.get(), std::move(request.connection_arg));
    } catch (...) {
      co_return refuse(with_context(current_exception_error(),
                                    "init_connection_state of worker type \"" + type_.name + "\""),
                       {});
    }
  }
  owner = request.owner;
  control_only = request.control_only;
  if (owner) owner_connected_ = true;
  t->send(frame_kind::open_ok, 0, std::string_view(reinterpret_cast<const char*>(&token), 8));
  co_return true;
}

clock::time_point worker_server::connection_calls::deadline_of(std::uint64_t id) noexcept {
  if (announced_id != id) return no_deadline;
  announced_id = 0;
  return std::exchange(announced, no_deadline);
}

void worker_server::connection_calls::cancel(std::uint64_t id) {
  auto found = running.find(id);
  if (found != running.end()) found->second->cancel();
}

void worker_server::connection_calls::cancel_all() {
  // A cancelled call may finish (and leave `running`) at once: cancel a copy.
  auto all = running;
  for (auto& [id, context] : all) context->cancel();
}

void worker_server::dispatch(const std::shared_ptr<transport>& t, frame f,
                             const std::shared_ptr<void>& conn_state, stream_table& streams,
                             const std::shared_ptr<connection_calls>& calls) {
  // A leave asked for while a plain call held this thread goes out before the next call runs.
  bool starts_code = f.kind == frame_kind::stream_call || f.kind == frame_kind::call ||
                     f.kind == frame_kind::one_way;
  if (starts_code && hooks_.before_call) hooks_.before_call();
  switch (f.kind) {
    case frame_kind::stream_call:
      start_stream(t, std::move(f), conn_state, streams, calls);
      return;
    case frame_kind::call:
    case frame_kind::one_way:
      start_call(t, std::move(f), conn_state, calls);
      return;
    case frame_kind::deadline:
      calls->announced_id = f.id;
      calls->announced = parse_deadline_payload(f.payload);
      return;
    case frame_kind::cancel:
      calls->cancel(f.id);
      return;
    case frame_kind::shutdown:
      if (hooks_.on_shutdown) hooks_.on_shutdown();
      return;
    case frame_kind::close_server:
      close_server();
      t->send(frame_kind::reply_ok, f.id, {});
      return;
    default:
      throw rpc_error({error_kind::failed, "protocol error: unexpected frame from " + t->peer()});
  }
}

void worker_server::start_call(const std::shared_ptr<transport>& t, frame f,
                               const std::shared_ptr<void>& conn_state,
                               const std::shared_ptr<connection_calls>& calls) {
  bool one_way = f.kind == frame_kind::one_way;
  std::size_t index = f.function;
  function_kind wanted = one_way ? function_kind::one_way : function_kind::rpc;
  if (index >= type_.functions.size() || type_.functions.at(index).kind != wanted) {
    if (!one_way)
      send_error(*t, frame_kind::reply_error, f.id,
                 {error_kind::unimplemented,
                  "worker type \"" + type_.name + "\" has no rpc function at index " +
                      std::to_string(index) + ": master and worker binaries differ"});
    return;
  }
  const function_entry& fn = type_.functions.at(index);
  clock::time_point deadline = calls->deadline_of(f.id);
  if (refused_as_expired(*t, f.id, index, deadline)) return;
  if (fn.async) {
    if (one_way) {
      asio::co_spawn(executor_,
                     run_async(t, f.id, index, std::move(f.payload), conn_state, true, {}, {}),
                     asio::detached);
      return;
    }
    auto context = begin_call(f.id, deadline, *calls);
    auto slot = context->signal.slot();
    asio::co_spawn(
        call_executor(executor_, context),
        run_async(t, f.id, index, std::move(f.payload), conn_state, false, context, calls),
        asio::bind_cancellation_slot(slot, asio::detached));
    return;
  }
  std::string reply = begin_frame();
  try {
    call_context context;
    context.deadline = deadline;
    current_call_scope scope(context);
    busy_call::scope busy(*busy_, calls->token, f.id, context);
    activity::served_call served(type_.name, fn.name, /*holds_thread=*/true);
    tracer::scope span("serve", type_.name, fn.name);
    fn.sync(state_.get(), conn_state.get(), std::move(f.payload), reply);
  } catch (...) {
    report(t, f.id, index, one_way, deadline);
    return;
  }
  if (!one_way) finish_call(*t, f.id, index, deadline, std::move(reply));
}

// A call that waited behind other work until its caller gave up is not started at all.
bool worker_server::refused_as_expired(transport& t, std::uint64_t id, std::size_t index,
                                       clock::time_point deadline) {
  if (deadline == no_deadline || clock::now() < deadline) return false;
  send_error(t, frame_kind::reply_error, id,
             {error_kind::timed_out, type_.name + "." + type_.functions.at(index).name +
                                         ": its deadline passed before the worker could start "
                                         "it (the worker was busy); not run"});
  return true;
}

std::shared_ptr<call_context> worker_server::begin_call(std::uint64_t id,
                                                        clock::time_point deadline,
                                                        connection_calls& calls) {
  auto context = std::make_shared<call_context>();
  context->deadline = deadline;
  if (deadline != no_deadline) {
    context->timer.emplace(executor_, deadline);
    context->timer->async_wait(
        [weak = std::weak_ptr<call_context>(context)](boost::system::error_code ec) {
          if (auto c = weak.lock(); c && !ec) c->cancel();
        });
  }
  calls.running.emplace(id, context);
  return context;
}

// A reply that comes after the call's deadline is `timed_out` whatever the implementation
// returned, as its caller sees it: the outcome does not depend on which of the two won the race.
void worker_server::finish_call(transport& t, std::uint64_t id, std::size_t index,
                                clock::time_point deadline, std::string reply) {
  if (deadline != no_deadline && clock::now() >= deadline) {
    send_error(t, frame_kind::reply_error, id,
               {error_kind::timed_out, type_.name + "." + type_.functions.at(index).name +
                                           ": its deadline passed while it ran"});
    return;
  }
  finish_frame(reply, frame_kind::reply_ok, id);
  send_reply(t, id, std::move(reply));
}

void worker_server::start_stream(const std::shared_ptr<transport>& t, frame f,
                                 const std::shared_ptr<void>& conn_state, stream_table& streams,
                                 const std::shared_ptr<connection_calls>& calls) {
  std::size_t index = f.function;
  if (index == log_function_index) {
    // The built-in log subscription every worker offers.
    auto out = streams.open_outbound(t, f.id, /*held=*/false);
    t->send(frame_kind::reply_ok, f.id, {});
    node_.logs().subscribe(stream_writer<log_message>(writer_handle(std::move(out))));
    return;
  }
  if (index >= type_.functions.size() || !is_streaming(type_.functions.at(index).kind)) {
    send_error(*t, frame_kind::reply_error, f.id,
               {error_kind::unimplemented,
                "worker type \"" + type_.name + "\" has no streaming function at index " +
                    std::to_string(index) + ": master and worker binaries differ"});
    return;
  }
  function_kind kind = type_.functions.at(index).kind;
  clock::time_point deadline = calls->deadline_of(f.id);
  if (refused_as_expired(*t, f.id, index, deadline)) return;
  std::shared_ptr<outbound_stream> out;
  std::shared_ptr<inbound_stream> in;
  std::string traced_as = tracer::on() ? type_.name + "." + type_.functions.at(index).name : "";
  if (kind == function_kind::reverse_pipe) {
    in = streams.open_inbound(t, f.id);
    in->trace_as(std::move(traced_as));
    in->grant_window();
  } else {
    // A direct pipe's or state's writes wait until its reply has gone out.
    out = streams.open_outbound(t, f.id, /*held=*/kind != function_kind::pipe);
    out->trace_as(std::move(traced_as));
  }
  if (kind == function_kind::pipe) t->send(frame_kind::reply_ok, f.id, {});
  auto context = begin_call(f.id, deadline, *calls);
  auto slot = context->signal.slot();
  asio::co_spawn(call_executor(executor_, context),
                 run_stream(t, f.id, index, std::move(f.payload), conn_state, std::move(out),
                            std::move(in), context, calls),
                 asio::bind_cancellation_slot(slot, asio::detached));
}

asio::awaitable<void> worker_server::run_stream(std::shared_ptr<transport> t, std::uint64_t id,
                                                std::size_t index, std::string query,
                                                std::shared_ptr<void> conn_state,
                                                std::shared_ptr<outbound_stream> out,
                                                std::shared_ptr<inbound_stream> in,
                                                std::shared_ptr<call_context> context,
                                                std::shared_ptr<connection_calls> calls) {
  auto self = shared_from_this();
  const function_entry& fn = type_.functions.at(index);
  activity::served_call served(type_.name, fn.name, /*holds_thread=*/false);
  std::string response;
  std::optional<error> failure;
  try {
    tracer::scope span("serve", type_.name, fn.name);
    response = co_await fn.stream(state_.get(), conn_state.get(), std::move(query), out, in);
  } catch (...) {
    failure = with_context(current_exception_error(), type_.name + "." + fn.name);
  }
  context->finish();
  calls->running.erase(id);
  if (failure) failure = blamed_on_deadline(std::move(*failure), context->deadline);
  if (in) in->close();  // a reverse pipe's stream belongs to its call: stop the caller's writer
  if (fn.kind == function_kind::pipe) {
    // The reply went out at the start; the stream's end carries the outcome.
    out->close(std::move(failure));
    co_return;
  }
  if (failure) {
    if (out) out->discard();
    if (t->is_open()) send_error(*t, frame_kind::reply_error, id, *failure);
    co_return;
  }
  if (t->is_open()) {
    std::string reply = begin_frame();
    reply += response;
    finish_frame(reply, frame_kind::reply_ok, id);
    send_reply(*t, id, std::move(reply));
  }
  if (out) out->release();
}

asio::awaitable<void> worker_server::run_async(std::shared_ptr<transport> t, std::uint64_t id,
                                               std::size_t index, std::string query,
                                               std::shared_ptr<void> conn_state, bool one_way,
                                               std::shared_ptr<call_context> context,
                                               std::shared_ptr<connection_calls> calls) {
  auto self = shared_from_this();
  const function_entry& fn = type_.functions.at(index);
  activity::served_call served(type_.name, fn.name, /*holds_thread=*/false);
  try {
    std::string reply;
    {
      tracer::scope span("serve", type_.name, fn.name);  // ends before the reply
      reply = co_await fn.async(state_.get(), conn_state.get(), std::move(query));
    }
    if (!one_way && t->is_open())
      finish_call(*t, id, index, context ? context->deadline : no_deadline, std::move(reply));
  } catch (...) {
    report(t, id, index, one_way, context ? context->deadline : no_deadline);
  }
  if (context) {
    context->finish();
    calls->running.erase(id);
  }
}

// Called inside a catch block: a call's error goes back to its caller; a one-way's is a
// background failure of the worker.
void worker_server::report(const std::shared_ptr<transport>& t, std::uint64_t id, std::size_t index,
                           bool one_way, clock::time_point deadline) {
  error e =
      with_context(current_exception_error(), type_.name + "." + type_.functions.at(index).name);
  e = blamed_on_deadline(std::move(e), deadline);
  if (one_way) {
    if (hooks_.on_background_failure) hooks_.on_background_failure(std::move(e));
    return;
  }
  try {
    if (t->is_open()) send_error(*t, frame_kind::reply_error, id, e);
  } catch (const rpc_error&) {
    // The error text itself exceeds max_message_size: send a shortened one.
    send_error(*t, frame_kind::reply_error, id, {e.kind, e.message.substr(0, 1024)});
  }
}

}  // namespace rpc_parallel::detail
