#include "ssh_tunnel.hpp"

#include "ssh_command.hpp"

#include "rpc_parallel/detail/process.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>

#include <unistd.h>
#include <map>
#include <memory>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

struct tunnel {
  explicit tunnel(const asio::any_io_executor& executor)
      : changed(executor), session_input(executor) {}
  bool opening = false;
  std::uint16_t remote_port = 0;  // 0: not open
  std::string control_path;
  wakeup changed;
  // Its session reads this until end of file: the write end dies with this process.
  asio::writable_pipe session_input;
};

// The tunnels of one execution context, by host and options (an Asio service: they go with it).
class tunnel_table : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit tunnel_table(asio::execution_context& context) : service(context) {}
  std::map<std::string, std::unique_ptr<tunnel>> hosts;
  int opened = 0;

 private:
  void shutdown() override { hosts.clear(); }
};

std::vector<std::string> base_arguments(ssh_options ssh) {
  ssh.multiplex = false;  // the tunnel is a connection of its own
  return ssh.arguments();
}

std::vector<std::string> control_command(const ssh_options& ssh, const tunnel& t,
                                         const std::string& host,
                                         std::vector<std::string> operation) {
  std::vector<std::string> args{"ssh"};
  auto base = base_arguments(ssh);
  args.insert(args.end(), base.begin(), base.end());
  args.insert(args.end(), {"-S", t.control_path});
  args.insert(args.end(), operation.begin(), operation.end());
  args.push_back(host);
  return args;
}

// Reads the child's stderr until it ends, keeping the last line (why ssh failed).
asio::awaitable<void> drain(asio::readable_pipe pipe, std::shared_ptr<std::string> last) {
  std::string buffer;
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await asio::async_read_until(pipe, asio::dynamic_buffer(buffer), '\n',
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    *last = last_line(buffer.substr(0, n));
    buffer.erase(0, n);
  }
}

asio::awaitable<void> reap_when_done(pid_t pid) { (void)co_await wait_exit(pid); }

// Starts the tunnel's ssh and waits until its session runs (it prints "ready").
asio::awaitable<void> open(tunnel& t, const ssh_options& ssh, const std::string& host, int n) {
  auto executor = co_await asio::this_coro::executor;
  t.control_path = "/tmp/rpcp-ssh-" + std::to_string(::getuid()) + "/t" +
                   std::to_string(::getpid()) + "-" + std::to_string(n);
  std::vector<std::string> args{"ssh"};
  auto base = base_arguments(ssh);
  args.insert(args.end(), base.begin(), base.end());
  args.insert(args.end(), {"-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-o",
                           "ControlPath=" + t.control_path, "-o", "ExitOnForwardFailure=yes", "-T",
                           host, "--", "echo ready; exec cat >/dev/null"});
  launched child = spawn_process("ssh", true, std::move(args), this_environment(), true);
  t.session_input.assign(child.stdin_fd);
  auto last = std::make_shared<std::string>();
  asio::co_spawn(executor, drain(asio::readable_pipe(executor, child.stderr_fd), last),
                 asio::detached);
  asio::co_spawn(executor, reap_when_done(child.pid), asio::detached);
  asio::readable_pipe output(executor, child.stdout_fd);
  std::string line;
  asio::steady_timer limit(executor, ssh.connect_timeout + std::chrono::seconds(10));
  boost::system::error_code ec;
  auto first = co_await (asio::async_read_until(output, asio::dynamic_buffer(line), '\n',
                                                asio::redirect_error(asio::use_awaitable, ec)) ||
                         limit.async_wait(asio::use_awaitable));
  if (first.index() != 0 || ec || line.rfind("ready", 0) != 0) {
    ::kill(child.pid, SIGKILL);
    t.session_input.close();
    throw rpc_error(
        {error_kind::disconnected, "cannot open the ssh tunnel to " + host + " (" +
                                       (last->empty() ? std::string("no answer") : *last) + ")"});
  }
}

}  // namespace

asio::awaitable<std::uint16_t> tunnel_to(ssh_options ssh, std::string host,
                                         std::uint16_t master_port) {
  auto executor = co_await asio::this_coro::executor;
  auto& table = asio::use_service<tunnel_table>(asio::query(executor, asio::execution::context));
  auto& slot = table.hosts[host_key(ssh, host)];
  if (!slot) slot = std::make_unique<tunnel>(executor);
  tunnel& t = *slot;
  while (t.opening) co_await t.changed.wait();
  if (t.remote_port != 0) co_return t.remote_port;
  t.opening = true;
  struct done_opening {
    tunnel& t;
    ~done_opening() {
      t.opening = false;
      t.changed.notify();
    }
  } done{t};
  co_await open(t, ssh, host, ++table.opened);
  // Port 0: sshd picks a free one on the host's loopback and ssh prints it.
  std::vector<std::string> forward = control_command(
      ssh, t, host, {"-O", "forward", "-R", "0:127.0.0.1:" + std::to_string(master_port)});
  captured result = co_await run_capture(std::move(forward));
  int port = result.status == 0 ? std::atoi(result.out.c_str()) : 0;
  if (port <= 0 || port > 65535)
    throw rpc_error({error_kind::disconnected,
                     "the ssh tunnel to " + host + " could not forward a port back here (" +
                         last_line(result.err) + "); does its sshd allow TCP forwarding?"});
  t.remote_port = static_cast<std::uint16_t>(port);
  co_return t.remote_port;
}

asio::awaitable<std::uint16_t> tunnel_from(ssh_options ssh, std::string host, std::uint16_t port) {
  auto executor = co_await asio::this_coro::executor;
  auto& table = asio::use_service<tunnel_table>(asio::query(executor, asio::execution::context));
  auto found = table.hosts.find(host_key(ssh, host));
  RPCP_REQUIRE(found != table.hosts.end() && found->second->remote_port != 0, "tunnel_from ", host,
               " before its tunnel was opened");
  std::string err;
  // ssh cannot pick the local port itself (-L 0 is refused): take one that is free now, and
  // another if something took it in between.
  for (int attempt = 0; attempt < 3; ++attempt) {
    asio::ip::tcp::acceptor probe(executor, {asio::ip::address_v4::loopback(), 0});
    std::uint16_t local = probe.local_endpoint().port();
    probe.close();
    std::string spec = "127.0.0.1:" + std::to_string(local) + ":127.0.0.1:" + std::to_string(port);
    std::vector<std::string> forward =
        control_command(ssh, *found->second, host, {"-O", "forward", "-L", spec});
    captured result = co_await run_capture(std::move(forward));
    if (result.status == 0) co_return local;
    err = last_line(result.err);
  }
  throw rpc_error(
      {error_kind::disconnected,
       "the ssh tunnel to " + host + " could not forward a port to a worker (" + err + ")"});
}

}  // namespace rpc_parallel::detail
