#include "route.hpp"

#include "rpc_parallel/error.hpp"

#include <boost/asio/ip/udp.hpp>

namespace rpc_parallel::detail {

std::string local_address_towards(const boost::asio::any_io_executor& executor,
                                  const std::string& host) {
  namespace ip = boost::asio::ip;
  boost::system::error_code ec;
  ip::udp::resolver resolver(executor);
  auto endpoints = resolver.resolve(host, "22", ec);
  ip::udp::socket probe(executor);
  if (!ec && !endpoints.empty()) probe.connect(*endpoints.begin(), ec);  // UDP: picks the route
  ip::udp::endpoint local;
  if (!ec) local = probe.local_endpoint(ec);
  if (ec)
    throw rpc_error({error_kind::failed, "no route from this host to " + host + " (" +
                                             ec.message() +
                                             "): set the dial-back address workers there use"});
  return local.address().to_string();
}

}  // namespace rpc_parallel::detail
