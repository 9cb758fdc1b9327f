#include "rpc_parallel/detail/status_endpoint.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/inspection.hpp"
#include "rpc_parallel/detail/metrics_http.hpp"
#include "rpc_parallel/detail/metrics_text.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>
#include <future>
#include <istream>
#include <map>
#include <vector>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
namespace json = boost::json;
using local = asio::local::stream_protocol;

std::string status_directory() {
  std::string dir;
  if (const char* own = std::getenv("RPC_PARALLEL_RUNTIME_DIR"); own && *own)
    dir = own;
  else if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg)
    dir = std::string(xdg) + "/rpc_parallel";
  else
    dir = "/tmp/rpc_parallel-" + std::to_string(::getuid());
  ::mkdir(dir.c_str(), 0700);
  struct stat st {};
  RPCP_REQUIRE(::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), "the status directory ", dir,
               " cannot be made");
  RPCP_REQUIRE(st.st_uid == ::getuid() && (st.st_mode & 077) == 0, "the status directory ", dir,
               " belongs to another user or others may enter it: make it mode 0700, or set "
               "RPC_PARALLEL_RUNTIME_DIR");
  return dir;
}

struct status_state {
  status_state(asio::any_io_executor executor, secret k, rpc_settings s)
      : acceptor(executor), metrics_acceptor(executor), key(k), settings(std::move(s)) {}
  local::acceptor acceptor;
  asio::ip::tcp::acceptor metrics_acceptor;
  std::string metrics_url;
  secret key;
  rpc_settings settings;
  std::map<std::string, json::object> last_figures;  // each worker's, by id (this thread only)
};

namespace {

json::object describe_worker(const activity::worker_view& w) {
  json::object out;
  out["id"] = w.id;
  out["name"] = w.name;
  out["type"] = w.type;
  out["host"] = w.host;
  out["address"] = w.address + ":" + std::to_string(w.port);
  out["pid"] = w.pid;
  out["restarts"] = w.restarts;
  out["age_seconds"] = std::chrono::duration<double>(activity::clock::now() - w.started).count();
  if (!w.ended.empty()) {
    out["state"] = "ended";
    out["ended"] = w.ended;
  }
  return out;
}

struct gathering {
  explicit gathering(asio::any_io_executor e, std::size_t n) : done(std::move(e)), reports(n) {}
  wakeup done;
  std::size_t left = 0;
  std::vector<json::value> reports;
};

asio::awaitable<void> ask(std::shared_ptr<gathering> g, std::size_t index, activity::worker_view w,
                          secret key, rpc_settings settings, inspect_what what) {
  json::object answer;
  try {
    std::string text = co_await inspect_worker(w.address, w.port, key, settings, what);
    g->reports[index] = json::parse(text);
  } catch (const std::exception& e) {
    answer["unreachable"] = std::string(e.what());
    g->reports[index] = std::move(answer);
  }
  if (--g->left == 0) g->done.notify();
}

asio::awaitable<json::object> app_report(std::shared_ptr<status_state> s, inspect_what what) {
  json::object out;
  report_this_process_into(out["master"].emplace_object(), {"master", {}, {}, {}}, what);
  auto executor = co_await asio::this_coro::executor;
  auto workers = activity::of_this_process().workers();
  auto g = std::make_shared<gathering>(executor, workers.size());
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].ended.empty()) continue;
    ++g->left;
    asio::co_spawn(executor, ask(g, i, workers[i], s->key, s->settings, what), asio::detached);
  }
  while (g->left > 0) co_await g->done.wait();
  json::array listed;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    json::object w = describe_worker(workers[i]);
    if (g->reports[i].is_object()) {
      const json::object& r = g->reports[i].as_object();
      if (auto* why = r.if_contains("unreachable")) {
        w["state"] = "unreachable";
        w["unreachable"] = *why;
      } else {
        w["report"] = r;
        w["state"] = r.at("state");
      }
    }
    listed.push_back(std::move(w));
  }
  out["workers"] = std::move(listed);
  if (!s->metrics_url.empty()) out["metrics_url"] = s->metrics_url;
  co_return out;
}

// Every process's figures: the master's, each worker's as it answers now, and the last ones of
// those that have ended or could not answer.
asio::awaitable<std::string> app_metrics(std::shared_ptr<status_state> s) {
  json::object all = co_await app_report(s, inspect_what::status);
  std::vector<json::object> processes;
  if (auto* own = all.at("master").as_object().if_contains("metrics"))
    processes.push_back(own->as_object());
  std::size_t unreachable = 0;
  for (const auto& listed : all.at("workers").as_array()) {
    const json::object& worker = listed.as_object();
    if (worker.at("state") == "unreachable") ++unreachable;
    auto* r = worker.if_contains("report");
    auto* figures = r ? r->as_object().if_contains("metrics") : nullptr;
    if (figures) s->last_figures[std::string(worker.at("id").as_string())] = figures->as_object();
  }
  for (const auto& [id, figures] : s->last_figures) processes.push_back(figures);
  co_return prometheus_text(processes, unreachable);
}

asio::awaitable<void> answer(std::shared_ptr<status_state> s, local::socket socket) {
  // Only this user: the directory is 0700, and the peer's credentials say who connected.
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 ||
      peer.uid != ::getuid())
    co_return;
  boost::system::error_code ec;
  asio::streambuf request(64);
  co_await asio::async_read_until(socket, request, '\n',
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  std::string line;
  std::istream(&request) >> line;
  std::string text;
  if (line == "status" || line == "stacks") {
    inspect_what what = line == "stacks" ? inspect_what::stacks : inspect_what::status;
    json::object report = co_await app_report(s, what);  // g++ 12: not in a ?: or an argument
    text = json::serialize(report);
  } else {
    json::object refusal;
    refusal["error"] = "unknown request \"" + line + "\": ask for status or stacks";
    text = json::serialize(refusal);
  }
  text += "\n";
  co_await asio::async_write(socket, asio::buffer(text),
                             asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> accept_loop(std::shared_ptr<status_state> s) {
  for (;;) {
    boost::system::error_code ec;
    local::socket socket =
        co_await s->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !s->acceptor.is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(s->acceptor.get_executor(), answer(s, std::move(socket)), asio::detached);
  }
}

}  // namespace

status_endpoint::status_endpoint(node& self)
    : busy_(io_.get_executor()),
      server_(std::make_shared<status_state>(io_.get_executor(), self.key(), self.settings())),
      thread_([this] { io_.run(); }) {}

void status_endpoint::serve_status() {
  std::string path = status_directory() + "/" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());  // left by a process of this pid that was killed
  server_->acceptor.open();
  server_->acceptor.bind(local::endpoint(path));
  path_ = path;
  ::chmod(path_.c_str(), 0600);
  server_->acceptor.listen();
  asio::co_spawn(io_, accept_loop(server_), asio::detached);
}

std::string status_endpoint::serve_metrics(const std::string& address, int port) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  RPCP_REQUIRE(!ec, "--rpc-metrics-address \"", address, "\" is not an IP address");
  RPCP_REQUIRE(port >= 0 && port <= 65535, "--rpc-metrics-port ", port,
               " is not a port (0 takes a free one)");
  asio::ip::tcp::endpoint where(ip, static_cast<std::uint16_t>(port));
  auto& acceptor = server_->metrics_acceptor;
  acceptor.open(where.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(where, ec);
  RPCP_REQUIRE(!ec, "cannot serve metrics on ", address, ":", port, ": ", ec.message(),
               "; choose another --rpc-metrics-port (0 takes a free one)");
  acceptor.listen();
  auto bound = acceptor.local_endpoint();
  std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                             : bound.address().to_string();
  server_->metrics_url = "http://" + host + ":" + std::to_string(bound.port()) + "/metrics";
  auto s = server_;
  asio::co_spawn(io_, serve_http_metrics(acceptor, [s] { return app_metrics(s); }), asio::detached);
  return server_->metrics_url;
}

std::string status_endpoint::metrics_now(std::chrono::milliseconds timeout) {
  auto answer = asio::co_spawn(io_, app_metrics(server_), asio::use_future);
  if (answer.wait_for(timeout) != std::future_status::ready)
    throw rpc_error({error_kind::timed_out, "the app's metrics were not gathered within " +
                                                std::to_string(timeout.count()) + " ms"});
  return answer.get();
}

status_endpoint::~status_endpoint() {
  if (!path_.empty()) ::unlink(path_.c_str());
  busy_.reset();
  io_.stop();
  thread_.join();
}

}  // namespace rpc_parallel::detail
