// Starting a worker on another host: `ssh HOST exec env MARKER=1 K=V... PATH ARGS...`, with the
// same stdin handshake as a local spawn (the configuration and secret travel through ssh's
// stdin, never its command line). Before the first spawn of an executable, one ssh round trip
// checks that the remote binary's SHA-256 equals ours (unless this process's copy_to_host has
// just checked it) and that it can execute there (the probe); the address the worker should
// dial back is found from this host's route, once per host.
#include "rpc_parallel/remote.hpp"

#include "host_facts.hpp"
#include "preflight.hpp"
#include "route.hpp"
#include "ssh_command.hpp"
#include "ssh_connections.hpp"
#include "ssh_tunnel.hpp"

#include "rpc_parallel/detail/launcher.hpp"
#include "rpc_parallel/detail/one_at_a_time.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/error.hpp"
#include "rpc_parallel/worker_process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>

#include <sodium.h>

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

namespace rpc_parallel {

std::vector<std::string> ssh_options::arguments() const {
  static constexpr const char* policies[] = {"yes", "accept-new", "no"};
  std::vector<std::string> args{
      "-o", "BatchMode=yes", "-o",
      std::string("StrictHostKeyChecking=") + policies[static_cast<int>(host_keys)]};
  args.insert(args.end(), {"-o", "ConnectTimeout=" + std::to_string(connect_timeout.count())});
  if (multiplex) {
    static const std::string control_dir = [] {
      std::string dir = "/tmp/rpcp-ssh-" + std::to_string(::getuid());
      ::mkdir(dir.c_str(), 0700);  // exists already: fine, ssh checks its permissions itself
      return dir;
    }();
    args.insert(args.end(), {"-o", "ControlMaster=auto", "-o", "ControlPath=" + control_dir + "/%C",
                             "-o", "ControlPersist=30"});
  }
  if (!config_file.empty()) args.insert(args.end(), {"-F", config_file});
  if (!user.empty()) args.insert(args.end(), {"-l", user});
  if (port != 0) args.insert(args.end(), {"-p", std::to_string(port)});
  if (!identity_file.empty()) args.insert(args.end(), {"-i", identity_file});
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

namespace detail {
namespace {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

class ssh_launcher final : public launcher {
 public:
  ssh_launcher(std::string host, std::string path, ssh_options ssh)
      : host_(std::move(host)),
        path_(std::move(path)),
        ssh_(std::move(ssh)),
        host_key_(host_key(ssh_, host_)) {}

  std::string host() const override { return host_; }

  asio::awaitable<prepared_launch> prepare(std::uint16_t master_port, bool lasting) const override {
    prepared_launch prepared;
    if (lasting && ssh_.multiplex) {
      auto executor = co_await asio::this_coro::executor;
      std::size_t slot = co_await reserve_session(ssh_, host_);
      prepared.hold = std::make_shared<session_room>(executor, ssh_, host_, slot);
    } else {
      co_await ensure_connection(ssh_, host_);
    }
    // Checked once per executable: later spawns on the same copy skip the round trips, and
    // spawns started together wait for the first one's check instead of each running its own
    // (twenty at once would open twenty sessions on one connection, past sshd's MaxSessions).
    // A failure drops `prepared`, which gives the room back; the next spawn checks again.
    if (master_address_.empty()) {
      auto turn = co_await checking_.take();  // the first spawn checks; the others wait
      if (master_address_.empty()) {
        if (prepared.hold) co_await ensure_connection(ssh_, host_);  // the checks use the first
        co_await preflight();
        if (ssh_.tunnel)
          master_address_ = "127.0.0.1";  // the tunnel's end on the host
        else if (!ssh_.dial_back_address.empty())
          master_address_ = ssh_.dial_back_address;
        else
          master_address_ = co_await address_seen_from_host();
      }
    }
    prepared.master_address = master_address_;
    if (ssh_.tunnel) prepared.master_port = co_await tunnel_to(ssh_, host_, master_port);
    co_return prepared;
  }

  launched launch(const launch_request& request, prepared_launch prepared) const override {
    std::string command = "exec env";
    auto add = [&command](std::string_view word) {
      command.push_back(' ');
      command.append(shell_quote(word));
    };
    add(std::string(worker_env_marker) + "=1");
    for (const auto& [key, value] : request.env) {
      check_env_name(key);
      add(key + "=" + value);
    }
    for (const auto& word : request.wrapper) add(word);
    add(path_);
    for (std::size_t i = 1; i < request.argv.size(); ++i) add(request.argv[i]);
    auto* room = static_cast<session_room*>(prepared.hold.get());
    auto args = ssh_command_on(ssh_, host_, {command}, room ? room->slot : 0);
    launched child =
        spawn_process("ssh", true, std::move(args), this_environment(), request.pipe_stdout);
    // The session lasts as long as the ssh child: keep its room until that exits.
    if (room) {
      auto executor = room->executor;
      asio::co_spawn(executor, hold_until_exit(executor, child.pid, std::move(prepared.hold)),
                     asio::detached);
    }
    return child;
  }

  std::string where() const override { return "host " + host_; }

  // Through the tunnel, the worker's link seems to come from this host's loopback: its server is
  // reached through a forward of the tunnel's own.
  asio::awaitable<std::pair<std::string, std::uint16_t>> reach_worker(
      std::string host, std::uint16_t port) const override {
    if (!ssh_.tunnel) co_return std::pair<std::string, std::uint16_t>{std::move(host), port};
    std::uint16_t local = co_await tunnel_from(ssh_, host_, port);
    co_return std::pair<std::string, std::uint16_t>{"127.0.0.1", local};
  }
  bool forwards_output_by_default() const override { return true; }
  bool carries_output() const override { return true; }

 private:
  std::string where_path() const { return host_ + ":" + path_; }

  // One round trip: the copy's SHA-256 (unless copy_to_host checked it), the host's
  // architecture, and the probe.
  asio::awaitable<void> preflight() const {
    bool content_known = is_checked_copy(host_key_, path_);
    std::vector<std::string> check = ssh_command({preflight_script(path_, content_known)});
    captured result = co_await run_capture(std::move(check));
    if (result.status != 0)
      throw rpc_error({error_kind::disconnected,
                       "cannot check the remote executable " + where_path() +
                           ": ssh exited with status " + std::to_string(result.status) + " (" +
                           last_line(result.err) +
                           "); check the host name, its key, and the host key policy"});
    check_preflight(result, where_path(), host_, "copy it there with copy_to_host", content_known);
  }

  std::vector<std::string> ssh_command(std::vector<std::string> remote) const {
    return detail::ssh_command(ssh_, host_, std::move(remote));
  }

  // The local address of the route to the host (as ssh resolves it, aliases included): what a
  // worker there dials to reach this process. Asked once per host and ssh options.
  asio::awaitable<std::string> address_seen_from_host() const {
    if (auto known = address_seen_from(host_key_)) co_return *known;
    std::vector<std::string> args{"ssh", "-G"};
    auto options = ssh_.arguments();
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(host_);
    captured config = co_await run_capture(std::move(args));
    std::istringstream lines(config.out);
    std::string key, hostname;
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("hostname ", 0) == 0) hostname = line.substr(9);
    RPCP_REQUIRE(!hostname.empty(), "ssh -G ", host_,
                 " printed no hostname: ", last_line(config.err));
    auto executor = co_await asio::this_coro::executor;
    std::string address = local_address_towards(executor, hostname);
    remember_address_seen_from(host_key_, address);
    co_return address;
  }

  // Room for one lasting session on connection `slot`, given back when dropped.
  struct session_room {
    session_room(asio::any_io_executor e, ssh_options o, std::string h, std::size_t s)
        : executor(std::move(e)), ssh(std::move(o)), host(std::move(h)), slot(s) {}
    ~session_room() { release_session(executor, ssh, host, slot); }
    asio::any_io_executor executor;
    ssh_options ssh;
    std::string host;
    std::size_t slot;
  };

  // Keeps `hold` until `pid` exits (watched without reaping: the spawner reaps it).
  static asio::awaitable<void> hold_until_exit(asio::any_io_executor executor, pid_t pid,
                                               std::shared_ptr<void> hold) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) {
      asio::posix::stream_descriptor exited(executor, fd);
      boost::system::error_code ignored;
      co_await exited.async_wait(asio::posix::stream_descriptor::wait_read,
                                 asio::redirect_error(asio::use_awaitable, ignored));
    }
    hold.reset();  // now
  }

  std::string host_;
  std::string path_;
  ssh_options ssh_;
  std::string host_key_;
  mutable std::string master_address_;  // set once the binary checked out; one I/O thread
  mutable one_at_a_time checking_;      // held by the spawn checking the binary now
};

}  // namespace
}  // namespace detail

remote_executable::remote_executable(std::string host, std::string path, ssh_options ssh)
    : host_(std::move(host)),
      path_(std::move(path)),
      ssh_(std::move(ssh)),
      launcher_(std::make_shared<detail::ssh_launcher>(host_, path_, ssh_)) {}

remote_executable remote_executable::existing_on_host(std::string host, std::string path,
                                                      ssh_options ssh) {
  return remote_executable(std::move(host), std::move(path), std::move(ssh));
}

boost::asio::awaitable<copied_executable> copy_to_host(std::string host, copy_options options) {
  const std::string& hash = detail::local_binary_hash();
  std::string name = std::filesystem::read_symlink("/proc/self/exe").filename().string();
  if (auto deleted = name.find(" (deleted)"); deleted != std::string::npos) name.erase(deleted);
  std::string path = options.dir + "/" + name + "." + hash.substr(0, 16);
  std::string where = host + ":" + path;
  co_await detail::ensure_connection(options.ssh, host);
  // Already there, with this content? Then no upload.
  std::vector<std::string> check = detail::ssh_command(
      options.ssh, host,
      {"sha256sum", "--", detail::shell_quote(path), "2>/dev/null", "||", "true"});
  detail::captured present = co_await detail::run_capture(std::move(check));
  if (present.status != 0)
    throw rpc_error({error_kind::disconnected,
                     "copy_to_host " + where + ": ssh exited with status " +
                         std::to_string(present.status) + ": " + detail::last_line(present.err)});
  bool uploaded = present.out.substr(0, present.out.find(' ')) != hash;
  if (uploaded) {
    std::string binary = detail::own_binary();
    std::string quoted = detail::shell_quote(path);
    std::string temporary = detail::shell_quote(path + ".upload");
    std::vector<std::string> upload =
        detail::ssh_command(options.ssh, host,
                            {"cat >" + temporary + ".$$ && chmod 755 " + temporary +
                             ".$$ && mv -f " + temporary + ".$$ " + quoted});
    detail::captured copied = co_await detail::run_capture(std::move(upload), std::move(binary));
    if (copied.status != 0)
      throw rpc_error({error_kind::failed, "copy_to_host " + where + ": upload failed (" +
                                               detail::last_line(copied.err) +
                                               "); is the directory there and writable?"});
  }
  detail::remember_checked_copy(detail::host_key(options.ssh, host), path);
  co_return copied_executable(remote_executable::existing_on_host(host, path, options.ssh),
                              uploaded);
}

boost::asio::awaitable<void> remove(copied_executable executable) {
  co_await detail::ensure_connection(executable.ssh(), executable.host());
  std::vector<std::string> command =
      detail::ssh_command(executable.ssh(), executable.host(),
                          {"rm", "-f", "--", detail::shell_quote(executable.path())});
  detail::captured removed = co_await detail::run_capture(std::move(command));
  if (removed.status != 0)
    throw rpc_error({error_kind::failed, "remove " + executable.host() + ":" + executable.path() +
                                             ": " + detail::last_line(removed.err)});
  detail::forget_checked_copy(detail::host_key(executable.ssh(), executable.host()),
                              executable.path());
}

}  // namespace rpc_parallel
