// Workers on other hosts over ssh: link `remote//rpc_parallel_remote` and spawn with
// `spawn_options().with_how(how_to_run::remote(executable))`.
#pragma once

#include "rpc_parallel/how_to_run.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rpc_parallel {

/// How ssh reaches a host. Every ssh runs with BatchMode=yes, so nothing ever waits on a
/// prompt: a missing key or an unknown host key is an error at once.
struct ssh_options {
  ssh_options() = default;  // not an aggregate: see spawn_options

  enum class host_key_policy : unsigned char { yes, accept_new, no };

  std::string config_file;    ///< `-F`; empty: the user's ~/.ssh/config.
  std::string user;           ///< `-l`; empty: from the config or the local user.
  std::uint16_t port = 0;     ///< `-p`; 0: from the config or 22.
  std::string identity_file;  ///< `-i`; empty: from the config or the agent.
  host_key_policy host_keys = host_key_policy::yes;  ///< StrictHostKeyChecking.
  std::chrono::seconds connect_timeout{5};  ///< ConnectTimeout: an unreachable host fails fast.
  /// One ssh connection per host (ControlMaster), reused by every check, copy and spawn there
  /// and kept 30 s after its last use; the sockets live in a private directory.
  bool multiplex = true;
  std::vector<std::string> extra;  ///< More ssh arguments, e.g. {"-o", "ConnectTimeout=5"}.
  /// The address workers on this host dial to reach this process. Empty: this host's local
  /// address on its route to the host, which is right unless NAT or a tunnel is in between.
  std::string dial_back_address;
  /// Tunnel mode, for hosts that cannot dial back to this process (a firewall, NAT, a login
  /// node): their workers' connections, both ways, travel through an ssh connection of this
  /// host's own (`-R` and `-L` forwards), so only sshd's port must be reachable. It ends, with
  /// every connection it carries, when this process does. Needs sshd's AllowTcpForwarding.
  bool tunnel = false;

  ssh_options with_config_file(std::string v) && {
    config_file = std::move(v);
    return std::move(*this);
  }
  ssh_options with_user(std::string v) && {
    user = std::move(v);
    return std::move(*this);
  }
  ssh_options with_port(std::uint16_t v) && {
    port = v;
    return std::move(*this);
  }
  ssh_options with_identity_file(std::string v) && {
    identity_file = std::move(v);
    return std::move(*this);
  }
  ssh_options with_host_keys(host_key_policy v) && {
    host_keys = v;
    return std::move(*this);
  }
  ssh_options with_dial_back_address(std::string v) && {
    dial_back_address = std::move(v);
    return std::move(*this);
  }
  ssh_options with_tunnel(bool v = true) && {
    tunnel = v;
    return std::move(*this);
  }

  /// The options as ssh arguments (before the host).
  std::vector<std::string> arguments() const;
};

namespace detail {
class launcher;
}

/// Where `copy_to_host` puts the copy.
struct copy_options {
  copy_options() = default;
  std::string dir = "/tmp";  ///< On the host; must exist and allow executing.
  ssh_options ssh;
  copy_options with_dir(std::string v) && {
    dir = std::move(v);
    return std::move(*this);
  }
  copy_options with_ssh(ssh_options v) && {
    ssh = std::move(v);
    return std::move(*this);
  }
};

/// This program's binary on another host. Rpc_parallel's `Remote_executable.t`.
class remote_executable {
 public:
  /// Names a copy already at `path` on `host`. Before each spawn its SHA-256 is compared with
  /// this binary's: a different file fails the spawn with "the remote executable HOST:PATH does
  /// not match the local executable".
  static remote_executable existing_on_host(std::string host, std::string path,
                                            ssh_options ssh = {});

  const std::string& host() const noexcept { return host_; }
  const std::string& path() const noexcept { return path_; }
  const ssh_options& ssh() const noexcept { return ssh_; }

  /// For how_to_run::remote.
  std::shared_ptr<const detail::launcher> launcher() const { return launcher_; }

 private:
  remote_executable(std::string host, std::string path, ssh_options ssh);
  std::string host_;
  std::string path_;
  ssh_options ssh_;
  std::shared_ptr<const detail::launcher> launcher_;
};

/// A copy of this binary that `copy_to_host` put on a host: the one kind of remote executable
/// that `remove` deletes (a file named by `existing_on_host` is not ours to delete, and the
/// compiler says so). Use it wherever a `remote_executable` goes.
class copied_executable : public remote_executable {
 public:
  /// Whether the `copy_to_host` that made it uploaded the binary (false: it was there already).
  bool uploaded() const noexcept { return uploaded_; }

 private:
  friend boost::asio::awaitable<copied_executable> copy_to_host(std::string, copy_options);
  copied_executable(remote_executable executable, bool uploaded)
      : remote_executable(std::move(executable)), uploaded_(uploaded) {}
  bool uploaded_ = false;
};

/// Copies this binary to `host` as DIR/NAME.SHA256-PREFIX: uploaded to a temporary name and
/// renamed, so a half-written copy is never run, and skipped when the host already has that
/// content. Throws `rpc_error` naming the host. Rpc_parallel's `Remote_executable.copy_to_host`.
boost::asio::awaitable<copied_executable> copy_to_host(std::string host, copy_options options = {});

/// Deletes a copy made by `copy_to_host`. Throws `rpc_error` naming the host when ssh or `rm`
/// fails. Rpc_parallel's `Remote_executable.delete`.
boost::asio::awaitable<void> remove(copied_executable executable);

}  // namespace rpc_parallel
