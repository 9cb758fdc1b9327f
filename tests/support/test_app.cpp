#include "support/test_app.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "support/test_workers.hpp"

#include <rpc_parallel/for_testing.hpp>

#include <dirent.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace tests {

const rpc_parallel::app& app() {
  static const rpc_parallel::app instance = [] {
    rpc_parallel::app a;
    register_test_workers(a);
    return a;
  }();
  return instance;
}

void run(std::function<boost::asio::awaitable<void>()> body, std::chrono::seconds deadline,
         rpc_parallel::rpc_settings settings) {
  rpc_parallel::for_testing::run(app(), std::move(body), deadline, settings);
}

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  auto close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() ? 0 : text[close + 2];
}

std::vector<pid_t> children() {
  std::vector<pid_t> pids;
  std::string self = std::to_string(::getpid());
  std::ifstream in("/proc/" + self + "/task/" + self + "/children");
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return pids;
}

std::vector<pid_t> zombie_children() {
  std::vector<pid_t> zombies;
  for (pid_t pid : children())
    if (process_state(pid) == 'Z') zombies.push_back(pid);
  return zombies;
}

bool wait_until_exited(pid_t pid, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    char state = process_state(pid);
    if (state == 0 || state == 'Z') return true;
    // Polling /proc is the only portable wait for a process that is not our child.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<pid_t> live_workers_named(const std::string& name) {
  std::string parent = "child-of-" + std::to_string(::getpid()) + "@";
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::vector<std::string> argv;
    for (std::string arg; std::getline(in, arg, '\0');) argv.push_back(arg);
    if (argv.size() == 4 && argv[1] == "RPC_PARALLEL_WORKER" && argv[2].rfind(parent, 0) == 0 &&
        argv[3] == name && process_state(pid) != 'Z')
      found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

bool wait_until_no_worker_named(const std::string& name, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!live_workers_named(name).empty()) {
    if (std::chrono::steady_clock::now() > end) return false;
    // These workers are not our children: /proc is the only place to watch them.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string self_path() {
  char buffer[4096];
  ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string repository_dir() {
  if (const char* dir = std::getenv("RPCP_SOURCE_DIR")) return dir;
  auto path = std::filesystem::path(self_path()).parent_path();
  while (!path.empty() && path != path.root_path() && !std::filesystem::exists(path / "Jamroot"))
    path = path.parent_path();
  return path.string();
}

std::string output_of(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[512];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ::pclose(pipe);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

failure_reports::failure_reports(boost::asio::any_io_executor executor)
    : state_(std::make_shared<state>(state{
          {}, boost::asio::steady_timer(executor, boost::asio::steady_timer::time_point::max())})) {
}

std::function<void(const rpc_parallel::error&)> failure_reports::handler() const {
  return [s = state_](const rpc_parallel::error& e) {
    s->reports.push_back(e.message);
    s->reported.cancel();
  };
}

boost::asio::awaitable<void> failure_reports::first(std::chrono::milliseconds limit) const {
  auto s = state_;
  if (!s->reports.empty()) co_return;
  s->reported.expires_after(limit);
  boost::system::error_code ec;
  co_await s->reported.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

}  // namespace tests
