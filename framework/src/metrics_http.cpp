#include "rpc_parallel/detail/metrics_http.hpp"

#include "rpc_parallel/detail/metrics_text.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto idle_limit = std::chrono::seconds(30);

http::response<http::string_body> refusal(const http::request<http::empty_body>& request,
                                          http::status status, std::string text) {
  http::response<http::string_body> response(status, request.version());
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(text);
  return response;
}

asio::awaitable<void> answer(tcp::socket socket,
                             std::function<asio::awaitable<std::string>()> gather) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    boost::system::error_code ec;
    http::request<http::empty_body> request;
    stream.expires_after(idle_limit);
    co_await http::async_read(stream, buffer, request,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // closed, idle too long, or not HTTP: nobody to answer
    std::string_view path(request.target().data(), request.target().size());
    path = path.substr(0, path.find('?'));
    http::response<http::string_body> response;
    if (request.method() != http::verb::get) {
      response =
          refusal(request, http::status::method_not_allowed, "only GET /metrics is served here\n");
      response.set(http::field::allow, "GET");
    } else if (path != "/metrics") {
      response = refusal(request, http::status::not_found,
                         "rpc_parallel serves its metrics at /metrics\n");
    } else {
      std::string text = co_await gather();
      response = http::response<http::string_body>(http::status::ok, request.version());
      response.set(http::field::content_type, prometheus_content_type);
      response.body() = std::move(text);
    }
    response.set(http::field::server, "rpc_parallel");
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    stream.expires_after(idle_limit);
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response.keep_alive()) co_return;
  }
}

}  // namespace

asio::awaitable<void> serve_http_metrics(tcp::acceptor& acceptor,
                                         std::function<asio::awaitable<std::string>()> gather) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), answer(std::move(socket), gather), asio::detached);
  }
}

}  // namespace rpc_parallel::detail
