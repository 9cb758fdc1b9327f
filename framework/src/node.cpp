#include "rpc_parallel/detail/node.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/death_report.hpp"
#include "rpc_parallel/detail/guardian.hpp"
#include "rpc_parallel/detail/launcher.hpp"
#include "rpc_parallel/detail/log_lines.hpp"
#include "rpc_parallel/detail/master_server.hpp"
#include "rpc_parallel/detail/metrics.hpp"
#include "rpc_parallel/detail/output_relay.hpp"
#include "rpc_parallel/detail/thread_stacks.hpp"
#include "rpc_parallel/detail/trace.hpp"
#include "rpc_parallel/detail/trace_file.hpp"
#include "rpc_parallel/detail/worker_server.hpp"
#include "rpc_parallel/worker.hpp"

#include <sys/syscall.h>
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rpc_parallel::detail {
namespace {
node* current_node = nullptr;  // the one node of this process; see node.hpp

// Answers a launcher's probe before main (see probe_env_var). In this file because every
// program using rpc_parallel links it.
[[maybe_unused]] const bool answered_probe = [] {
  const char* probe = std::getenv(probe_env_var);
  if (probe && std::strcmp(probe, "1") == 0) {
    std::puts(probe_answer);
    std::fflush(stdout);
    std::_Exit(0);
  }
  return false;
}();

// A write to a pipe whose reader is gone (a child that died before reading its configuration,
// a relay whose process exited) must come back as EPIPE, an error of that one write, rather
// than kill the whole process. Sockets need nothing: Asio sends with MSG_NOSIGNAL. A handler
// the program installed itself stays.
void ignore_sigpipe_unless_handled() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
    ::signal(SIGPIPE, SIG_IGN);
}
}  // namespace

node::node(boost::asio::any_io_executor executor, node_config config)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      guardian_(std::make_unique<detail::guardian>(executor_, config_.settings)),
      previous_(current_node) {
  // First: a master that cannot write its trace file throws before it is this process's node.
  if (!config_.settings.trace_file.empty() && !config_.serves_as_worker)
    trace_file_ = std::make_unique<trace_file>(config_.settings.trace_file);
  current_node = this;
  // A node is made on the thread that then runs its executor: the user thread.
  activity::of_this_process().set_user_thread(static_cast<pid_t>(::syscall(SYS_gettid)));
  install_stack_signal();
  ignore_sigpipe_unless_handled();
  // Its workers get the same settings, so they count, trace and write JSON lines too.
  if (config_.settings.metrics()) metrics::set_on(true);
  if (config_.settings.json_logs) set_json_logs(true);
  if (!config_.settings.trace_file.empty()) {
    if (!tracer::on()) tracer::of_this_process().start();
    if (trace_file_) tracer::of_this_process().write_to(trace_file_.get());
  }
}

node::~node() {
  for (auto& server : servers_) server->stop();
  if (master_server_) master_server_->close();
  if (trace_file_) {
    tracer::of_this_process().write_to(nullptr);
    tracer::stop();
    say(log_level::info, "rpc_parallel: ",
        "trace of " + std::to_string(trace_file_->spans_written()) + " spans from " +
            std::to_string(trace_file_->processes()) + " processes in " + trace_file_->path() +
            " (open it in ui.perfetto.dev)");
  }
  current_node = previous_;
}

node& node::current() {
  if (!current_node)
    throw rpc_error({error_kind::failed,
                     "this process is not initialised as an rpc_parallel master: run your main "
                     "through rpc_parallel::app::run (or expert::master, or for_testing::run) "
                     "before spawning, serving or connecting"});
  return *current_node;
}

node* node::current_or_null() noexcept { return current_node; }

const worker_type_entry& node::type(std::string_view name) const {
  auto found = config_.types.find(name);
  if (found == config_.types.end())
    throw rpc_error({error_kind::unimplemented,
                     "worker type \"" + std::string(name) +
                         "\" is not registered in this binary: call app.add_worker<" +
                         std::string(name) + ">() in main before run"});
  return *found->second;
}

master_server& node::master_server() {
  if (!master_server_) master_server_ = master_server::start(*this);
  return *master_server_;
}

void node::adopt(std::shared_ptr<worker_server> server) { servers_.push_back(std::move(server)); }

std::shared_ptr<worker_server> node::find_server(std::string_view worker_id) const {
  for (auto& server : servers_)
    if (server->id() == worker_id) return server;
  return nullptr;
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

std::string child_of_decoration() {
  return "child-of-" + std::to_string(::getpid()) + "@" + host_name();
}

std::string make_worker_id() {
  unsigned char bytes[16];
  random_bytes(bytes, sizeof bytes);
  static constexpr char digits[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id.push_back(digits[b >> 4]);
    id.push_back(digits[b & 15]);
  }
  return id;
}

}  // namespace rpc_parallel::detail

namespace rpc_parallel {
std::string describe(const worker_ref& w) {
  return "worker \"" + (w.name.empty() ? w.type : w.name) + "\" (" + w.type + ") at " + w.host +
         ":" + std::to_string(w.port);
}
}  // namespace rpc_parallel

namespace rpc_parallel::detail {

void node::remember(const std::string& id, std::shared_ptr<const worker_record> record) {
  // Records of workers known dead go first, so that a long run's spawns do not pile up.
  std::erase_if(records_, [](const auto& entry) {
    return entry.second->stderr_tail && entry.second->stderr_tail->is_finished();
  });
  records_[id] = std::move(record);
}

std::shared_ptr<const worker_record> node::record_of(const std::string& id) const {
  auto found = records_.find(id);
  return found == records_.end() ? nullptr : found->second;
}

}  // namespace rpc_parallel::detail
