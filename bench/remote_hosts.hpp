// The sshd hosts of remote/test_hosts for the remote figures, and timed ssh commands (their
// floors): plain processes, no framework.
#pragma once

#include <string>
#include <vector>

namespace bench {

/// A command for the floors: `argv` (argv[0] on PATH) with stdin from the file `input`.
struct command {
  std::vector<std::string> argv;
  std::string input = "/dev/null";
};

/// Runs `c` with stdout to /dev/null (stderr kept, so ssh's reason shows) and returns the
/// seconds until it exited. Throws `std::runtime_error` when it fails.
double timed_command(const command& c);

/// Runs each sequence of commands (one after the other) at the same time as the others, and
/// returns the seconds until all have finished. Throws when one fails.
double timed_at_once(const std::vector<std::vector<command>>& sequences);

/// `count` hosts from remote/test_hosts/setup.sh, state in /run/rpcp-test-hosts-bench, torn down
/// by the destructor (so also when a figure throws). Their names (rpcp-hN) and bridge are
/// global: it first waits (up to 10 min) while another set of test hosts is up. Needs root.
class test_hosts {
 public:
  explicit test_hosts(int count);
  ~test_hosts();
  test_hosts(const test_hosts&) = delete;
  test_hosts& operator=(const test_hosts&) = delete;

  const std::vector<std::string>& names() const noexcept { return names_; }
  const std::string& dir() const noexcept { return dir_; }
  std::string ssh_config() const { return dir_ + "/ssh_config"; }

  /// A copy of ssh_config under a new name: ssh options this process's framework has never
  /// used, so it does not assume (for 20 s) that a ControlMaster it opened is still alive.
  std::string fresh_config();

  /// Closes the ControlMasters the framework keeps to `host` (/tmp/rpcp-ssh-UID/%C and its
  /// `-N` siblings) with `ssh -O exit`, and waits until their sockets are gone.
  void close_framework_masters(const std::string& host);

  /// `ssh -F ssh_config -o ControlMaster=no -o ControlPath=none`: a connection of its own.
  std::vector<std::string> fresh_ssh() const;
  /// `ssh` through this bench's own control connection to `host` (see `open_control`).
  std::vector<std::string> control_ssh() const;
  /// Starts a ControlMaster of the bench's own (socket in dir(), ControlPersist 300 s) to `host`,
  /// unless one is open already.
  void open_control(const std::string& host);
  /// Closes the ControlMasters `open_control` started.
  void close_controls() const;

 private:
  std::string dir_;
  std::string repository_;
  std::vector<std::string> names_;
  std::vector<std::string> controls_;  // hosts with a ControlMaster of ours
  int configs_ = 0;
};

}  // namespace bench
