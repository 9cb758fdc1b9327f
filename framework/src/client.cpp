#include "rpc_parallel/detail/client.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/busy_call.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/death_report.hpp"
#include "rpc_parallel/detail/dial.hpp"
#include "rpc_parallel/detail/guardian.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/socket_watch.hpp"
#include "rpc_parallel/detail/trace.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

namespace {

// The first signature that differs between ours and the worker's, for the error message.
std::string first_difference(const std::vector<std::string>& ours,
                             const std::vector<std::string>& theirs) {
  for (std::size_t i = 0; i < std::max(ours.size(), theirs.size()); ++i) {
    std::string a = i < ours.size() ? ours[i] : "(nothing)";
    std::string b = i < theirs.size() ? theirs[i] : "(nothing)";
    if (a != b) return "we call " + a + ", the worker implements " + b;
  }
  return "tables are equal";
}

// Sends the cancel of a call on a connection of its own, for the worker's guardian to deliver
// while a plain implementation holds the worker's user thread (busy_call.hpp). Best effort: the
// cancel frame on the call's own connection stays the path every other case takes.
asio::awaitable<void> cancel_out_of_band(worker_ref worker, cancel_request request) {
  node& self = node::current();
  const rpc_settings& settings = self.settings();
  secret key = self.key();
  std::string peer = describe(worker);
  try {
    auto socket =
        co_await with_deadline(dial(worker, settings), settings.handshake_timeout, "connect");
    co_await authenticate_client(socket, key, settings.handshake_timeout, std::move(peer),
                                 request.bytes(), connection_purpose::cancel);
  } catch (const std::exception&) {
    // The worker is gone or unreachable: its death or its reply ends the call anyway.
  }
}

}  // namespace

client::client(worker_ref worker, const worker_type_entry* type, std::shared_ptr<transport> t)
    : worker_(std::move(worker)),
      type_(type),
      transport_(std::move(t)),
      closed_(transport_->socket().get_executor(), asio::steady_timer::time_point::max()) {}

client::~client() { transport_->close(); }

namespace {
std::string make_open_frame(const worker_ref& worker, const worker_type_entry* type,
                            std::string connection_arg, client::open_options options,
                            const rpc_settings& settings, std::vector<std::string>& signatures) {
  open_request request{worker.id,     worker.type,         {}, std::move(connection_arg),
                       options.owner, options.control_only};
  if (type) request.signatures = type->functions.signatures();
  signatures = request.signatures;
  std::string frame = begin_frame();
  encode(request, frame);
  RPCP_REQUIRE(frame.size() - frame_header_size <= settings.max_message_size,
               "the connection argument for ", describe(worker), " exceeds max_message_size");
  finish_frame(frame, frame_kind::open, 0);
  return frame;
}
}  // namespace

asio::awaitable<std::shared_ptr<client>> client::open(worker_ref worker,
                                                      const worker_type_entry* type,
                                                      std::string connection_arg,
                                                      open_options options) {
  node& self = node::current();
  const rpc_settings& settings = self.settings();
  auto socket = co_await with_deadline(dial(worker, settings), settings.handshake_timeout,
                                       "connect to " + describe(worker));
  std::vector<std::string> signatures;
  std::string open =
      make_open_frame(worker, type, std::move(connection_arg), options, settings, signatures);
  co_await authenticate_client(socket, self.key(), settings.handshake_timeout, describe(worker),
                               std::move(open));
  auto t = std::make_shared<transport>(std::move(socket), settings, describe(worker));
  self.guardian().watch(t->watch());
  auto c = co_await finish_open(std::move(t), std::move(worker), type, std::move(signatures), {});
  co_return c;
}

asio::awaitable<std::shared_ptr<client>> client::open_over(
    std::shared_ptr<transport> link, worker_ref worker, const worker_type_entry* type,
    std::string connection_arg, std::function<void(rpc_parallel::error)> on_failure) {
  std::vector<std::string> signatures;
  link->send(make_open_frame(worker, type, std::move(connection_arg), {.owner = true},
                             link->settings(), signatures));
  auto c = co_await finish_open(std::move(link), std::move(worker), type, std::move(signatures),
                                std::move(on_failure));
  co_return c;
}

asio::awaitable<std::shared_ptr<client>> client::finish_open(
    std::shared_ptr<transport> t, worker_ref worker, const worker_type_entry* type,
    std::vector<std::string> signatures, std::function<void(rpc_parallel::error)> on_failure) {
  // No deadline: the reply waits for init_connection_state, which may take as long as it needs
  // (Rpc_parallel does not limit it either); a dead peer is still seen by the heartbeat.
  auto answer = co_await t->read();
  if (!answer)
    throw rpc_error(
        {error_kind::disconnected, describe(worker) + " closed the connection while opening"});
  if (answer->kind == frame_kind::open_error) {
    auto refusal =
        decode<std::pair<error, std::vector<std::string>>>(answer->payload, "open error");
    error e = std::move(refusal.first);
    if (e.kind == error_kind::unimplemented && !refusal.second.empty())
      e.message += ": " + first_difference(signatures, refusal.second) +
                   "; deploy the same binary to master and workers";
    throw rpc_error(e);
  }
  RPCP_REQUIRE(answer->kind == frame_kind::open_ok, "protocol error from ", describe(worker),
               ": expected open_ok");
  std::shared_ptr<client> c(new client(std::move(worker), type, std::move(t)));
  c->on_failure_ = std::move(on_failure);
  if (answer->payload.size() == sizeof c->token_)
    std::memcpy(&c->token_, answer->payload.data(), sizeof c->token_);
  c->record_ = node::current().record_of(c->worker_.id);
  asio::co_spawn(node::current().executor(), read_replies(c), asio::detached);
  co_return c;
}

std::uint64_t client::max_message_size() const noexcept {
  return transport_->settings().max_message_size;
}

void client::refuse_oversized_query(std::string_view function) const {
  throw rpc_error(
      {error_kind::failed, "the query of " + worker_.type + "." + std::string(function) + " for " +
                               describe(worker_) + " exceeds max_message_size " +
                               std::to_string(max_message_size()) +
                               " (refused before it was copied whole); raise it with app::run's "
                               "settings, --rpc-max-message-size or " +
                               std::string(rpc_settings_env_var)});
}

std::uint16_t client::index_of(std::string_view name) const {
  std::int64_t index = type_ ? type_->functions.find(name) : -1;
  if (index < 0)
    throw rpc_error({error_kind::unimplemented, "function \"" + std::string(name) +
                                                    "\" is not implemented by worker type \"" +
                                                    worker_.type + "\": add it in implement()"});
  return static_cast<std::uint16_t>(index);
}

// Parks a call's completion handler under its id until read_replies completes it. A named
// class, not a lambda: g++ 12 destroys a capturing lambda temporary twice when it appears in a
// co_await expression.
class client::reply_initiation {
 public:
  reply_initiation(std::shared_ptr<client> self, std::uint64_t id)
      : self_(std::move(self)), id_(id) {}

  void operator()(reply_handler handler) const {
    auto found = self_->pending_.find(id_);
    if (found == self_->pending_.end()) {
      std::move(handler)(reply{reply::status::lost, " (no such call)"});
      return;
    }
    if (found->second.early) {
      reply r = std::move(*found->second.early);
      self_->pending_.erase(found);
      asio::post(
          self_->transport_->socket().get_executor(),
          [h = std::move(handler), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
      self_->close_if_left_and_idle();
      return;
    }
    // The awaiting coroutine's cancellation (`||` with a timer, a cancelled parent, a bound
    // cancellation_signal) gives the call up and tells the worker.
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<client>(self_), id = id_](asio::cancellation_type) {
        if (auto c = weak.lock()) c->give_up(id, reply{reply::status::cancelled, {}});
      });
    }
    found->second.handler.emplace(std::move(handler));
  }

 private:
  std::shared_ptr<client> self_;
  std::uint64_t id_;
};

asio::awaitable<reply> client::await_reply(std::uint64_t id) {
  reply_initiation initiation(shared_from_this(), id);
  reply r = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(reply)>(
      initiation, asio::use_awaitable);
  co_return r;
}

std::uint64_t client::send_call(call_frame f, frame_kind kind, clock::time_point deadline) {
  if (!transport_->is_open())
    throw rpc_error({error_kind::disconnected,
                     "connection to " + describe(worker_) + " is closed" + close_reason_});
  if (!leaving_.empty())
    throw rpc_error(
        {error_kind::disconnected, describe(worker_) + " is leaving (" + leaving_ +
                                       "): it answers the calls it has and takes no new one"});
  std::uint64_t id = next_id_++;
  auto& call = pending_.emplace(id, pending_call{.function = f.function}).first->second;
  if (metrics::on() || tracer::on()) call.sent = clock::now();
  transport::batch together(*transport_);
  if (deadline != no_deadline) {
    call.allowed_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
    transport_->send(frame_kind::deadline, id, deadline_payload(deadline));
    call.timer.emplace(transport_->socket().get_executor(), deadline);
    call.timer->async_wait([weak = weak_from_this(), id](boost::system::error_code ec) {
      if (ec) return;
      if (auto c = weak.lock()) c->give_up(id, reply{reply::status::timed_out, {}});
    });
  }
  finish_frame(f.bytes, kind, id, f.function);
  transport_->send(std::move(f.bytes));
  return id;
}

void client::give_up(std::uint64_t id, reply r) {
  auto found = pending_.find(id);
  if (found == pending_.end() || found->second.early) return;  // it has its outcome already
  if (transport_->is_open()) transport_->send(frame_kind::cancel, id, {});
  // A plain implementation checks its deadline itself; a cancellation must reach it while it runs.
  if (r.what == reply::status::cancelled && runs_plain(found->second.function) && token_ != 0)
    asio::co_spawn(transport_->socket().get_executor(),
                   cancel_out_of_band(worker_, cancel_request{token_, id}), asio::detached);
  if (r.what == reply::status::timed_out) r.bytes = timeout_text(found->second);
  if (r.what == reply::status::cancelled)
    r.bytes = function_name(found->second.function) +
              " cancelled by its caller; the worker was told to stop";
  watch_unheeded(id, r.what == reply::status::cancelled
                         ? function_name(found->second.function) + " was cancelled by its caller"
                         : function_name(found->second.function) + " passed its deadline");
  // A reverse pipe's stream ends with its call: the worker's reader sees why.
  if (auto out = streams_.find_outbound(id))
    out->fail_now(rpc_parallel::error{
        r.what == reply::status::timed_out ? error_kind::timed_out : error_kind::cancelled,
        "the caller gave up: " + r.bytes});
  if (!found->second.handler) {
    found->second.early = std::move(r);
    return;
  }
  auto h = std::move(*found->second.handler);
  pending_.erase(found);
  asio::post(transport_->socket().get_executor(),
             [h = std::move(h), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
  close_if_left_and_idle();
}

void client::close_if_left_and_idle() {
  if (leaving_.empty() || !pending_.empty() || !transport_->is_open()) return;
  closing_ = true;
  transport_->close();
}

void client::watch_unheeded(std::uint64_t id, std::string what) {
  if (!record_ || record_->kill_unheeded_after.count() <= 0 || !record_->kill) return;
  auto grace = record_->kill_unheeded_after;
  auto& timer = unheeded_.try_emplace(id, transport_->socket().get_executor()).first->second;
  timer.expires_after(grace);
  timer.async_wait(
      [weak = weak_from_this(), what = std::move(what), grace](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->kill_unheeded(what + " and was still running " + std::to_string(grace.count()) +
                            " ms after it was told to stop (spawn_options::kill_unheeded_after)");
      });
}

void client::kill_unheeded(std::string why) noexcept {
  if (!transport_->is_open()) return;  // it ended already: nothing to kill, no report to change
  record_->killed_because = std::move(why);
  try {
    record_->kill();
  } catch (...) {
    // Gone already.
  }
}

std::string client::timeout_text(const pending_call& call) const {
  return function_name(call.function) + " timed out after " + std::to_string(call.allowed_ms) +
         " ms (its deadline); the worker was told to stop";
}

bool client::runs_plain(std::uint16_t function) const {
  if (!type_ || function >= type_->functions.size()) return false;
  const function_entry& entry = type_->functions.at(function);
  return entry.kind == function_kind::rpc && entry.sync;
}

std::string client::function_name(std::uint16_t function) const {
  if (type_ && function < type_->functions.size())
    return worker_.type + "." + type_->functions.at(function).name;
  return worker_.type + " function " + std::to_string(function);
}

asio::awaitable<std::string> client::call(call_frame f, clock::time_point deadline) {
  // Named, not passed straight from the co_await: g++ 12 would destroy that temporary twice.
  auto executor = co_await asio::this_coro::executor;
  clock::time_point inherited = deadline_inherited_by(executor);
  if (deadline == no_deadline && inherited == no_deadline) {
    auto timeout = transport_->settings().call_timeout;
    if (timeout.count() > 0) deadline = clock::now() + timeout;
  }
  std::uint64_t id = send_call(std::move(f), frame_kind::call, std::min(deadline, inherited));
  std::string response = co_await reply_of(id);
  co_return response;
}

asio::awaitable<client::stream_reply> client::call_streaming_from(call_frame f,
                                                                  clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;  // named: g++ 12
  deadline = std::min(deadline, deadline_inherited_by(executor));
  // Before the call goes out: the time its caller gave it, not what is left after the sending.
  std::chrono::milliseconds allowed{0};
  if (deadline != no_deadline)
    allowed = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
  std::uint16_t function = f.function;
  std::uint64_t id = send_call(std::move(f), frame_kind::stream_call, deadline);
  auto stream = streams_.open_inbound(transport_, id);
  stream->trace_as(function_name(function));
  stream->grant_window();
  if (deadline != no_deadline) {
    stream->expire_at(
        deadline, {error_kind::timed_out, "stream of " + function_name(function) + " from " +
                                              describe(worker_) + " timed out after " +
                                              std::to_string(allowed.count()) +
                                              " ms (its deadline); the worker was told to stop"});
  }
  std::string response = co_await reply_of(id);
  co_return stream_reply{std::move(response), std::move(stream)};
}

std::pair<std::uint64_t, std::shared_ptr<outbound_stream>> client::start_streaming_to(
    call_frame f, clock::time_point deadline) {
  std::uint16_t function = f.function;
  std::uint64_t id = send_call(std::move(f), frame_kind::stream_call, deadline);
  auto stream = streams_.open_outbound(transport_, id, /*held=*/false);
  stream->trace_as(function_name(function));
  return {id, std::move(stream)};
}

void client::abort(std::uint64_t id) {
  if (auto stream = streams_.find_inbound(id)) stream->request_abort();
}

metrics::function_figures& client::figures_of(std::uint16_t function) {
  if (function >= figures_.size()) figures_.resize(function + 1, nullptr);
  auto*& figures = figures_[function];
  if (!figures) figures = &metrics::of_this_process().function(function_name(function));
  return *figures;
}

namespace {
call_outcome outcome_of(reply::status status) {
  switch (status) {
    case reply::status::ok:
      return call_outcome::ok;
    case reply::status::error:
      return call_outcome::error;
    case reply::status::timed_out:
      return call_outcome::timed_out;
    case reply::status::cancelled:
      return call_outcome::cancelled;
    case reply::status::lost:
      break;
  }
  return call_outcome::lost;
}
}  // namespace

asio::awaitable<std::string> client::reply_of(std::uint64_t id) {
  metrics::function_figures* counted = nullptr;
  clock::time_point sent{};
  std::uint16_t function = 0;
  bool traced = tracer::on();
  if (metrics::on() || traced) {  // both off: not even the lookup
    if (auto found = pending_.find(id); found != pending_.end()) {
      if (metrics::on()) counted = &figures_of(found->second.function);
      sent = found->second.sent;
      function = found->second.function;
    }
  }
  reply r = co_await await_reply(id);
  if (counted)
    metrics::of_this_process().call_ended(*counted, outcome_of(r.what), clock::now() - sent);
  if (traced && sent != clock::time_point{})
    tracer::of_this_process().record(
        "call", function_name(function), sent, clock::now(),
        {{"worker", worker_.name},
         {"outcome",
          std::string(call_outcome_names[static_cast<std::size_t>(outcome_of(r.what))])}});
  switch (r.what) {
    case reply::status::ok:
      co_return std::move(r.bytes);
    case reply::status::error:
      throw rpc_error(decode<error>(r.bytes, "error"));
    case reply::status::timed_out:
      throw rpc_error({error_kind::timed_out, "call to " + describe(worker_) + ": " + r.bytes});
    case reply::status::cancelled:
      throw rpc_error({error_kind::cancelled, "call to " + describe(worker_) + ": " + r.bytes});
    case reply::status::lost:
      break;
  }
  throw rpc_error({error_kind::disconnected, "call to " + describe(worker_) + " lost" + r.bytes});
}

void client::send_one_way(call_frame f) {
  if (tracer::on())
    tracer::of_this_process().record_instant(
        "call", function_name(f.function), clock::now(),
        {{"worker", worker_.name}, {"outcome", "sent (one-way)"}});
  finish_frame(f.bytes, frame_kind::one_way, 0, f.function);
  transport_->send(std::move(f.bytes));
}

asio::awaitable<void> client::close_server() {
  std::uint64_t id = send_call({0, begin_frame()}, frame_kind::close_server);
  reply r = co_await await_reply(id);
  if (r.what != reply::status::ok)
    throw rpc_error(
        {error_kind::disconnected, "close_server on " + describe(worker_) + " lost" + r.bytes});
}

asio::awaitable<void> client::shutdown_worker() {
  closing_ = true;
  transport_->send(frame_kind::shutdown, 0, {});
  co_await transport_->flush();
  co_await closed();
}

asio::awaitable<void> client::read_replies(std::shared_ptr<client> self) {
  std::string why = " (closed)";
  try {
    while (auto f = co_await self->transport_->read()) {
      if (self->streams_.route(*f)) continue;
      if (f->kind == frame_kind::failure && self->on_failure_) {
        // On a spawner's owner connection (which is also the worker's link): a background
        // failure, after which the worker exits.
        self->on_failure_(with_context(decode<error>(f->payload, "failure report"),
                                       "worker \"" + self->worker_.name + "\" failed"));
        continue;
      }
      if (f->kind == frame_kind::trace) {  // the worker's spans, before its reply
        tracer::of_this_process().absorb(f->payload);
        continue;
      }
      if (f->kind == frame_kind::leaving) {
        self->leaving_ = f->payload.empty() ? "it was told to stop" : f->payload;
        self->close_if_left_and_idle();
        continue;
      }
      if (f->kind != frame_kind::reply_ok && f->kind != frame_kind::reply_error)
        throw rpc_error({error_kind::failed, "protocol error: unexpected frame from worker"});
      auto found = self->pending_.find(f->id);
      if (found == self->pending_.end()) {
        self->unheeded_.erase(f->id);  // a given-up call that did stop
        continue;
      }
      reply r{f->kind == frame_kind::reply_ok ? reply::status::ok : reply::status::error,
              std::move(f->payload)};
      // The worker's own timeout may beat our timer by a hair: the caller's text either way.
      if (r.what == reply::status::error && found->second.allowed_ms >= 0 &&
          decode<error>(r.bytes, "error").kind == error_kind::timed_out)
        r = reply{reply::status::timed_out, self->timeout_text(found->second)};
      if (!found->second.handler) {
        found->second.early = std::move(r);
        continue;
      }
      auto handler = std::move(*found->second.handler);
      self->pending_.erase(found);
      asio::dispatch(
          self->transport_->socket().get_executor(),
          [h = std::move(handler), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
      self->close_if_left_and_idle();
    }
    why = " (the worker closed the connection)";
  } catch (const std::exception& e) {
    why = std::string(" (") + e.what() + ")";
  }
  // A connection the guardian declared dead keeps its reason: the host, not the worker, is
  // what failed, and the worker may live on.
  if (self->record_ && !self->closing_ && self->transport_->watch()->dead_reason().empty()) {
    auto record = self->record_;
    auto calls = self->in_flight();
    std::string report = co_await death_report(std::move(record), std::move(calls));
    if (!report.empty()) {
      activity::of_this_process().died(self->worker_.id, report);
      why = ": " + report;
      if (self->on_failure_)
        self->on_failure_(
            {error_kind::disconnected, "worker \"" + self->worker_.name + "\" died: " + report});
    }
  }
  // Closed by us once the leaving worker had answered everything: it left, it did not die.
  if (self->closing_ && !self->leaving_.empty()) why = " (it left: " + self->leaving_ + ")";
  self->fail_all(why);
}

std::vector<std::string> client::in_flight() const {
  std::vector<std::string> names;
  for (const auto& [id, call] : pending_)
    if (!call.early) names.push_back(function_name(call.function));
  return names;
}

void client::fail_all(const std::string& why) {
  close_reason_ = why;
  unheeded_.clear();
  transport_->close();
  streams_.disconnect(why);
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, call] : pending) {
    if (!call.handler) {
      // Not awaited yet: its outcome waits for it (a timeout already decided stays).
      if (!call.early) call.early = reply{reply::status::lost, why};
      call.timer.reset();
      pending_.emplace(id, std::move(call));
      continue;
    }
    asio::post(transport_->socket().get_executor(), [h = std::move(*call.handler), why]() mutable {
      std::move(h)(reply{reply::status::lost, why});
    });
  }
  closed_.cancel();
}

void client::close() noexcept {
  closing_ = true;
  // A worker still running a call it was told to stop would not see the close either (it may
  // be stopped): under kill_unheeded_after it is killed now rather than never.
  if (!unheeded_.empty())
    kill_unheeded(
        "it was still running a call it had been told to stop when its connection was closed "
        "(spawn_options::kill_unheeded_after)");
  transport_->close();
}

asio::awaitable<void> client::closed() {
  auto self = shared_from_this();
  // The timer never expires (set once, in the constructor): fail_all cancels every waiter.
  while (!close_reason_.size()) {
    boost::system::error_code ec;
    co_await closed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace rpc_parallel::detail
