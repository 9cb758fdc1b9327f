// The metrics' HTTP side: GET /metrics, answered with what a callback gathers. Beast stays in
// its .cpp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <string>

namespace rpc_parallel::detail {

/// Serves HTTP/1.1 on `acceptor` until it is closed: GET /metrics answers 200 with
/// `gather()`'s text as Prometheus' text format; other paths 404 and other methods 405, each
/// saying what is served. A connection may ask many times (keep-alive); one idle for 30 s ends.
boost::asio::awaitable<void> serve_http_metrics(
    boost::asio::ip::tcp::acceptor& acceptor,
    std::function<boost::asio::awaitable<std::string>()> gather);

}  // namespace rpc_parallel::detail
