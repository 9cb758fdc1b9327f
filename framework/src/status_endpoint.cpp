#include "rpc_parallel/detail/status_endpoint.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/inspection.hpp"
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
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>
#include <istream>

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
      : acceptor(std::move(executor)), key(k), settings(std::move(s)) {}
  local::acceptor acceptor;
  secret key;
  rpc_settings settings;
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

asio::awaitable<std::string> app_report(std::shared_ptr<status_state> s, inspect_what what) {
  json::object out;
  out["master"] = json::parse(report_this_process({"master", {}, {}, {}}, what));
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
  co_return json::serialize(out);
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
    text = co_await app_report(s, what);  // g++ 12: no co_await inside a ?: or an argument
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
    : path_(status_directory() + "/" + std::to_string(::getpid()) + ".sock"),
      server_(std::make_shared<status_state>(io_.get_executor(), self.key(), self.settings())) {
  ::unlink(path_.c_str());  // left by a process of this pid that was killed
  server_->acceptor.open();
  server_->acceptor.bind(local::endpoint(path_));
  ::chmod(path_.c_str(), 0600);
  server_->acceptor.listen();
  asio::co_spawn(io_, accept_loop(server_), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

status_endpoint::~status_endpoint() {
  ::unlink(path_.c_str());
  io_.stop();
  thread_.join();
}

}  // namespace rpc_parallel::detail
