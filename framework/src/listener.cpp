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

#include <sys/socket.h>

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
      port_(acceptor_->local_endpoint().port()) {
  std::string name = new_same_host_name(settings_);
  if (name.empty()) return;
  boost::system::error_code ec;
  same_host_acceptor_.emplace(g.executor());
  same_host_acceptor_->open(asio::local::stream_protocol(), ec);
  if (!ec) same_host_acceptor_->bind(same_host_endpoint(name), ec);
  if (!ec) same_host_acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    same_host_acceptor_.reset();  // e.g. the name is taken in another pid namespace: TCP only
    return;
  }
  same_host_name_ = std::move(name);
}

namespace {

/// "pid N on this host": who is on the other end of a same-host socket, from the kernel.
std::string same_host_peer(stream_socket& socket) {
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0)
    return "a process on this host";
  return "pid " + std::to_string(peer.pid) + " on this host";
}

}  // namespace

void listener::start(hooks h) {
  hooks_ = std::move(h);
  asio::co_spawn(guardian_.executor(), accept_loop(acceptor_), asio::detached);
  if (same_host_acceptor_)
    asio::co_spawn(guardian_.executor(), accept_loop(same_host_acceptor_), asio::detached);
}

void listener::close() noexcept {
  open_ = false;
  if (guardian_stopping_) return;
  asio::post(guardian_.executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    if (self->acceptor_) self->acceptor_->close(ignored);
    if (self->same_host_acceptor_) self->same_host_acceptor_->close(ignored);
  });
}

void listener::shut_down() noexcept {
  open_ = false;
  guardian_stopping_ = true;
  asio::post(guardian_.executor(), [self = shared_from_this()] {
    self->acceptor_.reset();
    self->same_host_acceptor_.reset();
  });
}

template <class Acceptor>
asio::awaitable<void> listener::accept_loop(std::optional<Acceptor>& acceptor) {
  auto self = shared_from_this();
  while (open_) {
    boost::system::error_code ec;
    if (!acceptor) co_return;
    typename Acceptor::protocol_type::socket socket =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor || !acceptor->is_open() || !open_) co_return;
      // e.g. EMFILE: keep serving the connections we have, and retry a little later.
      co_await back_off_after_accept_error(guardian_.executor());
      continue;
    }
    std::string host, peer;
    if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
      auto remote = socket.remote_endpoint(ec);
      if (ec) continue;
      host = remote.address().to_string();
      peer = host + ":" + std::to_string(remote.port());
    }
    stream_socket accepted(std::move(socket));
    if (host.empty()) peer = same_host_peer(accepted);
    asio::co_spawn(guardian_.executor(),
                   handshake(std::move(accepted), std::move(host), std::move(peer)),
                   asio::detached);
  }
}

asio::awaitable<void> listener::handshake(stream_socket socket, std::string host,
                                          std::string peer) {
  auto self = shared_from_this();
  configure_socket(socket, settings_);
  connection_purpose purpose{};
  try {
    purpose = co_await authenticate_server(socket, key_, settings_.handshake_timeout);
  } catch (const std::exception& e) {
    // Nothing of theirs was read beyond fixed-size bytes; just drop them.
    if (hooks_.on_refused) hooks_.on_refused(peer, e.what());
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
  boost::system::error_code ec;
  auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) co_return;
  stream_socket user_socket(guardian_.user_executor(), protocol, socket.release());
  auto t = std::make_shared<transport>(std::move(user_socket), settings_, peer_prefix_ + peer);
  guardian_.watch(t->watch(), hooks_.exit_at_end);
  asio::post(guardian_.user_executor(), [self, t = std::move(t), host = std::move(host)]() mutable {
    if (self->hooks_.on_connection) self->hooks_.on_connection(std::move(t), std::move(host));
  });
}

asio::awaitable<void> listener::deliver_cancel(stream_socket socket) {
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
