#include "rpc_parallel/detail/master_server.hpp"
#include "rpc_parallel/detail/log_lines.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/death_report.hpp"
#include "rpc_parallel/detail/join_queue.hpp"
#include "rpc_parallel/detail/listener.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/socket_watch.hpp"
#include "rpc_parallel/detail/trace.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using asio::ip::tcp;

master_server::master_server(node& owner)
    : executor_(owner.executor()),
      settings_(owner.settings()),
      listener_(listener::bind(owner.guardian(), settings_, owner.key(), "worker at ")),
      port_(listener_->port()) {}

const std::string& master_server::same_host_name() const noexcept {
  return listener_->same_host_name();
}

std::shared_ptr<master_server> master_server::start(node& owner) {
  std::shared_ptr<master_server> server(new master_server(owner));
  listener::hooks accepting;
  std::weak_ptr<master_server> weak = server;
  accepting.on_connection = [weak](std::shared_ptr<transport> link, std::string host) {
    if (auto self = weak.lock())
      asio::co_spawn(self->executor_, self->receive_registration(std::move(link), std::move(host)),
                     asio::detached);
  };
  // A wrong secret is the likeliest reason a joiner fails: say so where its master's user looks.
  accepting.on_refused = [](const std::string& peer, const std::string& why) {
    say(log_level::error, "[rpc_parallel] ",
        "refused a connection from " + peer + ": " + why +
            " (a worker joining with the wrong secret, or not an rpc_parallel peer)");
  };
  server->listener_->start(std::move(accepting));
  return server;
}

void master_server::close() noexcept {
  closed_ = true;
  listener_->close();
  // Closing the links tells every worker with a heartbeat policy that its master is gone.
  for (auto& weak : links_)
    if (auto link = weak.lock()) link->close();
  for (auto& [id, s] : pending_) s->arrived.cancel();
  if (joins_) joins_->close();
}

std::shared_ptr<join_queue> master_server::open_joins() {
  if (!joins_) joins_ = std::make_shared<join_queue>(executor_);
  return joins_;
}

void master_server::expect(const std::string& id) {
  pending_.emplace(id, std::make_shared<slot>(slot{std::nullopt, asio::steady_timer(executor_)}));
}

void master_server::forget(const std::string& id) { pending_.erase(id); }

void master_server::abandon(const std::string& id) {
  auto found = pending_.find(id);
  if (found == pending_.end()) return;
  // A worker that registered for a spawn that gave up must not run on: tell it to exit.
  if (found->second->value) {
    auto& link = found->second->value->link;
    if (link->is_open()) link->send(frame_kind::shutdown, 0, {});
  }
  pending_.erase(found);
}

asio::awaitable<master_server::registered> master_server::await_registration(std::string id) {
  auto self = shared_from_this();
  auto found = pending_.find(id);
  RPCP_REQUIRE(found != pending_.end(), "await_registration of unexpected worker ", id);
  std::shared_ptr<slot> s = found->second;
  while (!s->value) {
    s->arrived.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await s->arrived.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (closed_) throw rpc_error({error_kind::disconnected, "the master server closed"});
  }
  co_return *s->value;  // the slot stays until `forget`, so a raced caller can await again
}

// The first frame on an authenticated link (it came with the worker's proof) says which spawn
// it answers.
asio::awaitable<void> master_server::receive_registration(std::shared_ptr<transport> link,
                                                          std::string host) {
  auto self = shared_from_this();
  try {
    auto first = co_await with_deadline(link->read(), settings_.handshake_timeout, "registration");
    if (first && first->kind == frame_kind::join) {
      co_await receive_join(std::move(link), std::move(host), std::move(first->payload));
      co_return;
    }
    if (!first || first->kind != frame_kind::registration) co_return;
    auto reg = decode<registration>(first->payload, "registration");
    auto found = pending_.find(reg.worker_id);
    if (found == pending_.end() || found->second->value) {
      // Its spawn gave up (timed out) or never existed: tell it to exit.
      link->send(frame_kind::shutdown, 0, {});
      co_await link->flush();
      link->close();
      co_return;
    }
    std::erase_if(links_, [](const std::weak_ptr<transport>& l) { return l.expired(); });
    links_.push_back(link);
    // On the same-host socket the worker says where it is reachable by TCP.
    if (host.empty()) host = reg.host;
    found->second->value = registered{link, host, reg};
    found->second->arrived.cancel();
  } catch (const std::exception&) {
    // Malformed: dropped without touching any spawn.
  }
}

// A worker that joins by itself: it waits in the queue until a spawn takes it, or is told why
// not.
asio::awaitable<void> master_server::receive_join(std::shared_ptr<transport> link, std::string host,
                                                  std::string payload) {
  auto request = decode<join_request>(payload, "join request");
  if (!joins_ || joins_->closed()) {
    std::string refusal;
    encode(rpc_parallel::error{error_kind::unimplemented,
                               "the master at this address accepts no joins (its master_main "
                               "must call rpc_parallel::joins::open)"},
           refusal);
    say(log_level::error, "[rpc_parallel] ",
        "refused a join from " + host + " (" + request.host + " pid " +
            std::to_string(request.pid) + "): this master accepts no joins (joins::open)");
    link->send(frame_kind::open_error, 0, refusal);
    co_await link->flush();
    link->close();
    co_return;
  }
  std::erase_if(links_, [](const std::weak_ptr<transport>& l) { return l.expired(); });
  links_.push_back(link);
  joins_->push(joiner{std::move(link), std::move(host), std::move(request)});
}

void master_server::watch(std::shared_ptr<transport> link, std::string worker_name,
                          std::function<void(error)> on_failure,
                          std::shared_ptr<const worker_record> record) {
  asio::co_spawn(executor_,
                 read_failures(std::move(link), std::move(worker_name), std::move(on_failure),
                               std::move(record)),
                 asio::detached);
}

asio::awaitable<void> master_server::read_failures(std::shared_ptr<transport> link,
                                                   std::string name,
                                                   std::function<void(error)> on_failure,
                                                   std::shared_ptr<const worker_record> record) {
  auto self = shared_from_this();
  bool reported = false;
  try {
    while (auto f = co_await link->read()) {
      if (f->kind == frame_kind::trace) tracer::of_this_process().absorb(f->payload);
      if (f->kind != frame_kind::failure) continue;
      error e = with_context(decode<error>(f->payload, "failure report"),
                             "worker \"" + name + "\" failed");
      reported = true;
      if (on_failure) on_failure(std::move(e));
    }
  } catch (const std::exception&) {
    // The worker or its host is gone; its connections report that to their callers.
  }
  // A death with no connection open would otherwise go unnoticed (one report per death: a
  // worker that reported a failure then exits cleanly).
  if (reported || !record || !on_failure || !link->watch()->dead_reason().empty()) co_return;
  std::string report = co_await death_report(record, {});
  if (!report.empty()) activity::of_this_process().died(record->id, report);
  if (!report.empty())
    on_failure({error_kind::disconnected, "worker \"" + name + "\" died: " + report});
}

}  // namespace rpc_parallel::detail
