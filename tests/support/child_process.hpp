// A master started by a test as a process of its own (this test binary in scenario mode, or a
// command), its output read line by line, and its end waited for without polling.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace tests {

struct child {
  pid_t pid = -1;
  int stdout_fd = -1;  ///< Its stdout (and its stderr, when asked).
};

/// Starts `argv` (searched on PATH) with its stdout, and its stderr if `with_stderr`, piped to
/// us.
child launch(std::vector<std::string> argv, bool with_stderr = false);
/// Starts this test binary (or a copy at `program`) as the master of `scenario`.
child launch(const std::string& program, const std::string& scenario, bool with_stderr = false);

/// Reads lines until `last` (or end of file / deadline).
std::vector<std::string> read_lines_until(int fd, const std::string& last,
                                          std::chrono::seconds deadline);

/// Waits (on a pidfd, no polling) for our child `pid` to exit, reaps it and returns its exit
/// status (128 + N when signal N ended it), or -1 if it did not exit within `deadline`.
int reap_within_status(pid_t pid, std::chrono::milliseconds deadline);
/// Waits (on a pidfd, no polling) for our child `pid` to exit and reaps it.
bool reap_within(pid_t pid, std::chrono::milliseconds deadline);

}  // namespace tests
