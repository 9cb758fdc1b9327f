#include "rpc_parallel/detail/listener.hpp"

#include "rpc_parallel/detail/busy_call.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/guardian.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using asio::ip::tcp;

std::shared_ptr<listener> listener::bind(guardian& g, const rpc_settings& settings,
                                         const secret& key, std::string peer_prefix) {
  std::shared_ptr<listener> l(new listener(g, settings, key, std::move(peer_prefix)));
  g.track(l);
  return l;
}

listener::listener(guardian& g, const rpc_settings& settings, const secret& key,
                   std::string peer_prefix)
    : guardian_(g),
      settings_(settings),
      key_(key),
      peer_prefix_(std::move(peer_prefix)),
      acceptor_(std::in_place, g.executor(), tcp::endpoint(tcp::v4(), 0)),
      port_(acceptor_->local_endpoint().port()) {}

void listener::start(hooks h) {
  hooks_ = std::move(h);
  asio::co_spawn(guardian_.executor(), accept_loop(), asio::detached);
}

void listener::close() noexcept {
  open_ = false;
  if (guardian_stopping_) return;
  asio::post(guardian_.executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    if (self->acceptor_) self->acceptor_->close(ignored);
  });
}

void listener::shut_down() noexcept {
  open_ = false;
  guardian_stopping_ = true;
  asio::post(guardian_.executor(), [self = shared_from_this()] { self->acceptor_.reset(); });
}

asio::awaitable<void> listener::accept_loop() {
  auto self = shared_from_this();
  while (open_) {
    boost::system::error_code ec;
    if (!acceptor_) co_return;
    tcp::socket socket =
        co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor_ || !acceptor_->is_open() || !open_) co_return;
      // e.g. EMFILE: keep serving the connections we have, and retry a little later.
      co_await back_off_after_accept_error(guardian_.executor());
      continue;
    }
    asio::co_spawn(guardian_.executor(), handshake(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> listener::handshake(tcp::socket socket) {
  auto self = shared_from_this();
  configure_socket(socket, settings_);
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  connection_purpose purpose{};
  try {
    purpose = co_await authenticate_server(socket, key_, settings_.handshake_timeout);
  } catch (const std::exception& e) {
    // Nothing of theirs was read beyond fixed-size bytes; just drop them.
    if (hooks_.on_refused)
      hooks_.on_refused(remote.address().to_string() + ":" + std::to_string(remote.port()),
                        e.what());
    co_return;
  }
  if (purpose == connection_purpose::cancel) {
    co_await deliver_cancel(std::move(socket));
    co_return;
  }
  if (purpose == connection_purpose::inspect) {
    if (hooks_.on_inspect)
      co_await answer_inspection(std::move(socket), hooks_.on_inspect, settings_.handshake_timeout);
    co_return;
  }
  // From here the connection belongs to the user thread's executor, and is watched.
  auto protocol = remote.protocol();
  tcp::socket user_socket(guardian_.user_executor(), protocol, socket.release());
  std::string host = remote.address().to_string();
  auto t = std::make_shared<transport>(std::move(user_socket), settings_,
                                       peer_prefix_ + host + ":" + std::to_string(remote.port()));
  guardian_.watch(t->watch(), hooks_.exit_at_end);
  asio::post(guardian_.user_executor(), [self, t = std::move(t), host = std::move(host)]() mutable {
    if (self->hooks_.on_connection) self->hooks_.on_connection(std::move(t), std::move(host));
  });
}

asio::awaitable<void> listener::deliver_cancel(tcp::socket socket) {
  unsigned char request[cancel_request::size];
  try {
    co_await with_deadline(asio::async_read(socket, asio::buffer(request), asio::use_awaitable),
                           settings_.handshake_timeout, "cancel request");
  } catch (const std::exception&) {
    co_return;  // the canceller gave up or died: there is nobody to tell
  }
  if (hooks_.on_cancel) hooks_.on_cancel(cancel_request::parse(request));
}

}  // namespace rpc_parallel::detail
