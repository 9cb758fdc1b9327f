#include "remote_hosts.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

const std::string state_dir = "/run/rpcp-test-hosts-bench";  // not /tmp: each host has its own

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) {
    if (!text.empty()) text.push_back(' ');
    text.append(word);
  }
  return text;
}

// The repository, found from this binary's path (bin/bench/<toolset>/.../bench), else the
// working directory (bench/run.sh runs from there).
fs::path repository() {
  auto path = fs::read_symlink("/proc/self/exe").parent_path();
  while (!path.empty() && path != path.root_path() && !fs::exists(path / "Jamroot"))
    path = path.parent_path();
  return fs::exists(path / "Jamroot") ? path : fs::current_path();
}

// Another set of test hosts is up: its bridge, or an sshd of setup.sh's (`sshd -D -f
// .../sshd_rpcp-h1.conf`, `sshd_loopback.conf`).
bool other_hosts_up() {
  if (fs::exists("/sys/class/net/rpcpbr0")) return true;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find("sshd") != std::string::npos &&
        cmdline.find(std::string("\0-D\0", 4)) != std::string::npos &&
        cmdline.find("/sshd_") != std::string::npos)
      return true;
  }
  return false;
}

void wait_until_no_other_hosts() {
  auto deadline = steady_clock::now() + std::chrono::minutes(10);
  bool said = false;
  while (other_hosts_up()) {
    if (steady_clock::now() > deadline)
      throw std::runtime_error("remote bench: another set of test hosts stayed up for 10 min");
    if (!said) std::fprintf(stderr, "remote bench: waiting while other test hosts are up\n");
    said = true;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

void run_quietly(const std::string& shell_command) {
  if (std::system(shell_command.c_str()) != 0) {
  }  // best effort: a master may be gone already
}

std::string output_of(const std::string& shell_command) {
  std::string out;
  if (FILE* pipe = ::popen(shell_command.c_str(), "r")) {
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ::pclose(pipe);
  }
  return out;
}

bool is_socket(const std::string& path) {
  struct stat s {};
  return ::lstat(path.c_str(), &s) == 0 && S_ISSOCK(s.st_mode);
}

}  // namespace

double timed_command(const command& c) {
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, c.input.c_str(), O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  // Our sockets stay ours: a ControlMaster living on must not hold a worker's connection open.
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> argv;
  for (const auto& word : c.argv) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  auto start = steady_clock::now();
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + c.argv[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  double elapsed = std::chrono::duration<double>(steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // Appended, not "`" + ...: g++ 12 raises a false -Wrestrict on that form (PR 105651).
    std::string what = "`";
    what += joined(c.argv);
    what += "` failed (status " + std::to_string(status) + ")";
    throw std::runtime_error(what);
  }
  return elapsed;
}

double timed_at_once(const std::vector<std::vector<command>>& sequences) {
  std::vector<std::exception_ptr> failures(sequences.size());
  std::vector<std::thread> threads;
  auto start = steady_clock::now();
  for (std::size_t i = 0; i < sequences.size(); ++i)
    threads.emplace_back([&sequences, &failures, i] {
      try {
        for (const auto& c : sequences[i]) timed_command(c);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    });
  for (auto& thread : threads) thread.join();
  double elapsed = std::chrono::duration<double>(steady_clock::now() - start).count();
  for (const auto& failure : failures)
    if (failure) std::rethrow_exception(failure);
  return elapsed;
}

test_hosts::test_hosts(int count) : dir_(state_dir), repository_(repository().string()) {
  wait_until_no_other_hosts();
  std::string scripts = repository_ + "/remote/test_hosts/";
  std::string list = dir_ + ".list";
  std::string setup = "RPCP_TEST_HOSTS_DIR=" + dir_ + " " + scripts + "setup.sh " +
                      std::to_string(count) + " > " + list;
  if (std::system(setup.c_str()) != 0) {
    run_quietly("RPCP_TEST_HOSTS_DIR=" + dir_ + " " + scripts + "teardown.sh");
    throw std::runtime_error("remote bench: " + scripts + "setup.sh failed");
  }
  std::ifstream in(list);
  for (std::string name; std::getline(in, name);) names_.push_back(name);
  fs::remove(list);
  if (static_cast<int>(names_.size()) != count) {
    run_quietly("RPCP_TEST_HOSTS_DIR=" + dir_ + " " + scripts + "teardown.sh");
    throw std::runtime_error("remote bench: setup.sh printed a wrong number of hosts");
  }
}

test_hosts::~test_hosts() {
  try {
    close_controls();
    for (const auto& host : names_) close_framework_masters(host);
  } catch (...) {
    // teardown.sh below ends their sshd processes anyway
  }
  run_quietly("RPCP_TEST_HOSTS_DIR=" + dir_ + " " + repository_ + "/remote/test_hosts/teardown.sh");
}

std::string test_hosts::fresh_config() {
  std::string path = dir_ + "/ssh_config." + std::to_string(++configs_);
  fs::copy_file(ssh_config(), path, fs::copy_options::overwrite_existing);
  return path;
}

void test_hosts::close_framework_masters(const std::string& host) {
  // The framework's ControlPath, as ssh expands it for this host (%C: a hash of the addresses,
  // port and user, the same whatever copy of the config names them).
  std::string base;
  std::string config = output_of("ssh -G -F " + ssh_config() + " -o ControlPath=/tmp/rpcp-ssh-" +
                                 std::to_string(::getuid()) + "/%C " + host);
  for (std::size_t at = 0; at < config.size();) {
    std::size_t end = config.find('\n', at);
    std::string line = config.substr(at, end - at);
    if (line.rfind("controlpath ", 0) == 0) base = line.substr(12);
    at = end == std::string::npos ? config.size() : end + 1;
  }
  if (base.empty()) throw std::runtime_error("ssh -G " + host + " printed no controlpath");
  for (int slot = 0; slot < 8; ++slot) {
    std::string path = slot == 0 ? base : base + "-" + std::to_string(slot);
    if (!is_socket(path)) continue;
    run_quietly("ssh -F " + ssh_config() + " -o ControlPath=" + path + " -O exit " + host +
                " 2>/dev/null");
    auto deadline = steady_clock::now() + std::chrono::seconds(5);
    while (is_socket(path) && steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (is_socket(path)) throw std::runtime_error("the ControlMaster " + path + " did not exit");
  }
}

std::vector<std::string> test_hosts::fresh_ssh() const {
  return {"ssh", "-F", ssh_config(), "-o", "ControlMaster=no", "-o", "ControlPath=none"};
}

std::vector<std::string> test_hosts::control_ssh() const {
  return {
      "ssh", "-F", ssh_config(), "-o", "ControlMaster=no", "-o", "ControlPath=" + dir_ + "/cm-%C"};
}

void test_hosts::open_control(const std::string& host) {
  if (std::find(controls_.begin(), controls_.end(), host) != controls_.end()) return;
  controls_.push_back(host);
  timed_command({{"ssh", "-F", ssh_config(), "-o", "ControlMaster=yes", "-o",
                  "ControlPath=" + dir_ + "/cm-%C", "-o", "ControlPersist=300", host, "true"}});
}

void test_hosts::close_controls() const {
  for (const auto& host : controls_)
    run_quietly("ssh -F " + ssh_config() + " -o ControlPath=" + dir_ + "/cm-%C -O exit " + host +
                " 2>/dev/null");
}

}  // namespace bench
