#include "rpc_parallel/detail/dial.hpp"

#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <vector>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<stream_socket> dial(const worker_ref& worker, const rpc_settings& settings) {
  if (settings.same_host_sockets && reachable_here(worker.same_host)) {
    stream_socket local = co_await connect_same_host(worker.same_host, describe(worker));
    co_return local;
  }
  auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  // A numeric address needs no resolver (whose thread and getaddrinfo cost a spawn ~1 ms).
  auto address = asio::ip::make_address(worker.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, worker.port);
  } else {
    tcp::resolver resolver(executor);
    ec.clear();
    auto results = co_await resolver.async_resolve(worker.host, std::to_string(worker.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      throw rpc_error({error_kind::disconnected,
                       "cannot resolve host of " + describe(worker) + ": " + ec.message()});
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  tcp::socket socket(executor);
  co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec)
    throw rpc_error({error_kind::disconnected, "cannot connect to " + describe(worker) + ": " +
                                                   ec.message() + " (has the worker exited?)"});
  stream_socket connected(std::move(socket));
  configure_socket(connected, settings);
  co_return connected;
}

}  // namespace rpc_parallel::detail
