#include "rpc_parallel/detail/inspection.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/metrics.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/stream_channel.hpp"
#include "rpc_parallel/detail/thread_stacks.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <sys/syscall.h>
#include <unistd.h>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;

namespace {

const auto process_started = std::chrono::steady_clock::now();
constexpr std::uint32_t max_report_size = 16u << 20;

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Resident memory, CPU time and threads, from /proc/self.
void add_resources(json::object& out) {
  std::uint64_t pages = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  out["rss_bytes"] = resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start after its closing parenthesis.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  // Field 3 (state) is f[0]: utime is field 14, stime 15, num_threads 20.
  if (f.size() > 17) {
    double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    out["cpu_seconds"] = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    out["threads"] = std::stoll(f[17]);
  }
}

json::array as_json(const std::vector<std::string>& lines) {
  json::array a;
  for (const auto& l : lines) a.emplace_back(l);
  return a;
}

json::object map_json(const map_progress& p) {
  json::object m;
  m["done"] = p.done;
  m["in_flight"] = p.in_flight;
  m["retried"] = p.retried;
  m["timed_out"] = p.timed_out;
  m["speculated"] = p.speculated;
  m["failed"] = p.failed;
  m["workers"] = p.workers;
  if (p.total) m["total"] = *p.total;
  m["elapsed_seconds"] = seconds(p.elapsed);
  m["excluded_hosts"] = as_json(p.excluded_hosts);
  return m;
}

}  // namespace

void report_this_process_into(json::object& out, const inspected_identity& who, inspect_what what) {
  activity& now = activity::of_this_process();
  out["role"] = who.role;
  if (!who.id.empty()) out["id"] = who.id;
  if (!who.name.empty()) out["name"] = who.name;
  if (!who.type.empty()) out["type"] = who.type;
  out["pid"] = static_cast<std::int64_t>(::getpid());
  out["host"] = host_name();
  out["uptime_seconds"] = seconds(std::chrono::steady_clock::now() - process_started);
  add_resources(out);
  json::array calls;
  const activity::call_view* busy = nullptr;
  auto served = now.served_calls();
  for (const auto& c : served) {
    json::object call;
    call["function"] = c.function;
    call["age_seconds"] = seconds(c.age);
    call["holds_thread"] = c.holds_thread;
    calls.push_back(std::move(call));
    if (!busy || (c.holds_thread && !busy->holds_thread)) busy = &c;
  }
  out["state"] = busy ? "busy" : "idle";
  if (busy) {
    out["busy_function"] = busy->function;
    out["busy_seconds"] = seconds(busy->age);
  }
  out["calls"] = std::move(calls);
  out["stream_ends_open"] = open_stream_ends();
  json::array maps;
  for (const auto& m : now.maps()) maps.push_back(map_json(m));
  out["maps"] = std::move(maps);
  if (metrics::on()) metrics::of_this_process().snapshot_into(out["metrics"].emplace_object());
  if (what == inspect_what::stacks) {
    json::object stacks;
    pid_t user = now.user_thread();
    pid_t here = static_cast<pid_t>(::syscall(SYS_gettid));
    if (user > 0 && user != here)
      stacks["user_thread"] = as_json(stack_of_thread(user, std::chrono::milliseconds(1000)));
    stacks["framework_thread"] = as_json(stack_here());
    out["stacks"] = std::move(stacks);
  }
}

std::string report_this_process(const inspected_identity& who, inspect_what what) {
  json::object out;
  report_this_process_into(out, who, what);
  return json::serialize(out);
}

asio::awaitable<std::string> inspect_worker(std::string address, std::uint16_t port, secret key,
                                            rpc_settings settings, inspect_what what) {
  auto executor = co_await asio::this_coro::executor;
  std::string peer = "worker at " + address + ":" + std::to_string(port);
  auto timeout = settings.handshake_timeout * (what == inspect_what::stacks ? 2 : 1);
  tcp::socket tcp_socket(executor);
  tcp::endpoint endpoint(asio::ip::make_address(address), port);
  auto connect = tcp_socket.async_connect(endpoint, asio::use_awaitable);
  co_await with_deadline(std::move(connect), timeout, "connecting to the " + peer);
  stream_socket socket(std::move(tcp_socket));
  co_await authenticate_client(socket, key, settings.handshake_timeout, peer,
                               std::string(1, static_cast<char>(what)),
                               connection_purpose::inspect);
  std::uint32_t size = 0;
  auto header = asio::async_read(socket, asio::buffer(&size, sizeof size), asio::use_awaitable);
  co_await with_deadline(std::move(header), timeout, "the report of the " + peer);
  if (size > max_report_size)
    throw rpc_error({error_kind::failed, "the report of the " + peer + " is too large"});
  std::string report(size, '\0');
  auto body = asio::async_read(socket, asio::buffer(report), asio::use_awaitable);
  co_await with_deadline(std::move(body), timeout, "the report of the " + peer);
  co_return report;
}

asio::awaitable<void> answer_inspection(stream_socket socket,
                                        std::function<std::string(inspect_what)> report,
                                        std::chrono::milliseconds timeout) {
  try {
    unsigned char request = 0;
    auto read = asio::async_read(socket, asio::buffer(&request, 1), asio::use_awaitable);
    co_await with_deadline(std::move(read), timeout, "inspection request");
    auto what = request == static_cast<unsigned char>(inspect_what::stacks) ? inspect_what::stacks
                                                                            : inspect_what::status;
    std::string text = report(what);
    auto size = static_cast<std::uint32_t>(text.size());
    std::string answer(sizeof size, '\0');
    std::memcpy(answer.data(), &size, sizeof size);
    answer += text;
    auto write = asio::async_write(socket, asio::buffer(answer), asio::use_awaitable);
    co_await with_deadline(std::move(write), timeout, "inspection answer");
  } catch (const std::exception&) {
    // The asker gave up or went away: nobody to tell.
  }
}

}  // namespace rpc_parallel::detail
