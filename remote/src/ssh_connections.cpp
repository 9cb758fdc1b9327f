#include "ssh_connections.hpp"

#include "ssh_command.hpp"

#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <map>
#include <memory>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// ControlPersist keeps an idle master for 30 s; past this a host's connection is opened anew.
constexpr auto assumed_alive = std::chrono::seconds(20);

struct host_connection {
  explicit host_connection(asio::any_io_executor executor) : changed(std::move(executor)) {}
  bool opening = false;
  clock::time_point last_used{};
  int sessions = 0;  // lasting sessions reserved on it
  wakeup changed;
};

// The ssh connections of one execution context, by host and options, kept as an Asio service so
// that they go (timers included) with that context. One I/O thread: no lock.
class connection_table : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit connection_table(asio::execution_context& context) : service(context) {}

  std::map<std::string, std::vector<std::unique_ptr<host_connection>>> hosts;
  int opening = 0;
  std::unique_ptr<wakeup> slot_freed;

 private:
  void shutdown() override {
    hosts.clear();
    slot_freed.reset();
  }
};

connection_table& table_of(const asio::any_io_executor& executor) {
  auto& all = asio::use_service<connection_table>(asio::query(executor, asio::execution::context));
  if (!all.slot_freed) all.slot_freed = std::make_unique<wakeup>(executor);
  return all;
}

host_connection& connection_at(connection_table& all, const asio::any_io_executor& executor,
                               const ssh_options& ssh, const std::string& host, std::size_t slot) {
  auto& slots = all.hosts[host_key(ssh, host)];
  while (slots.size() <= slot) slots.push_back(std::make_unique<host_connection>(executor));
  return *slots[slot];
}

}  // namespace

std::vector<std::string> ssh_command_on(const ssh_options& ssh, const std::string& host,
                                        std::vector<std::string> remote, std::size_t slot) {
  auto args = ssh_command(ssh, host, std::move(remote));
  if (slot > 0)
    for (auto& arg : args)
      if (arg.rfind("ControlPath=", 0) == 0) {
        arg.push_back('-');
        arg.append(std::to_string(slot));
      }
  return args;
}

asio::awaitable<void> ensure_connection(const ssh_options& ssh, const std::string& host,
                                        std::size_t slot) {
  if (!ssh.multiplex) co_return;
  auto executor = co_await asio::this_coro::executor;
  connection_table& all = table_of(executor);
  host_connection& connection = connection_at(all, executor, ssh, host, slot);
  while (connection.opening) co_await connection.changed.wait();
  if (clock::now() - connection.last_used < assumed_alive) {
    connection.last_used = clock::now();
    co_return;
  }
  connection.opening = true;
  while (all.opening >= max_connections_in_setup) co_await all.slot_freed->wait();
  ++all.opening;
  // ControlMaster=auto with ControlPersist: this `true` leaves the master running for others.
  std::vector<std::string> probe = ssh_command_on(ssh, host, {"true"}, slot);
  captured result = co_await run_capture(std::move(probe));
  --all.opening;
  all.slot_freed->notify();
  connection.opening = false;
  connection.changed.notify();
  if (result.status != 0)
    throw rpc_error({error_kind::disconnected,
                     "cannot connect to " + host + " over ssh (status " +
                         std::to_string(result.status) + ": " + last_line(result.err) +
                         "); check the host name, its key and the host key policy"});
  connection.last_used = clock::now();
}

asio::awaitable<std::size_t> reserve_session(const ssh_options& ssh, const std::string& host) {
  auto executor = co_await asio::this_coro::executor;
  connection_table& all = table_of(executor);
  std::size_t slot = 0;
  while (connection_at(all, executor, ssh, host, slot).sessions >= sessions_per_connection) ++slot;
  ++connection_at(all, executor, ssh, host, slot).sessions;  // reserved before any wait
  try {
    co_await ensure_connection(ssh, host, slot);
  } catch (...) {
    release_session(executor, ssh, host, slot);
    throw;
  }
  co_return slot;
}

void release_session(const asio::any_io_executor& executor, const ssh_options& ssh,
                     const std::string& host, std::size_t slot) {
  auto& all = asio::use_service<connection_table>(asio::query(executor, asio::execution::context));
  auto found = all.hosts.find(host_key(ssh, host));
  if (found == all.hosts.end() || found->second.size() <= slot) return;
  --found->second[slot]->sessions;
}

}  // namespace rpc_parallel::detail
