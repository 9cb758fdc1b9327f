#include "rpc_parallel/detail/same_host.hpp"

#include "rpc_parallel/error.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;

namespace {

std::string read_host_key() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  if (!std::getline(boot, boot_id) || boot_id.empty()) return {};
  struct stat net {};
  if (::stat("/proc/self/ns/net", &net) != 0) return {};
  return "rpc_parallel/" + boot_id + "/" + std::to_string(net.st_ino) + "/";
}

}  // namespace

const std::string& this_host_key() {
  // A process keeps its network namespace (setns is not something this framework does).
  static const std::string key = read_host_key();
  return key;
}

std::string new_same_host_name(const rpc_settings& settings) {
  if (!settings.same_host_sockets || this_host_key().empty()) return {};
  static std::atomic<unsigned> count{0};
  // Unique on the host: a pid belongs to one live process, and its own listeners count up.
  return this_host_key() + std::to_string(::getpid()) + "." + std::to_string(count++);
}

bool reachable_here(std::string_view name) noexcept {
  const std::string& key = this_host_key();
  return !name.empty() && !key.empty() && name.starts_with(key);
}

asio::local::stream_protocol::endpoint same_host_endpoint(std::string_view name) {
  std::string abstract(1, '\0');
  abstract += name;
  return asio::local::stream_protocol::endpoint(abstract);
}

asio::awaitable<stream_socket> connect_same_host(std::string_view name, const std::string& peer) {
  asio::local::stream_protocol::socket socket(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  co_await socket.async_connect(same_host_endpoint(name),
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec)
    throw rpc_error({error_kind::disconnected, "cannot connect to " + peer +
                                                   " on its same-host socket: " + ec.message() +
                                                   " (has it exited?)"});
  co_return stream_socket(std::move(socket));
}

bool is_tcp(stream_socket& socket) noexcept {
  int domain = 0;
  socklen_t size = sizeof domain;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0)
    return false;
  return domain == AF_INET || domain == AF_INET6;
}

}  // namespace rpc_parallel::detail
