// Running ssh (and other short commands) to completion, and quoting for the remote shell.
#pragma once

#include "rpc_parallel/remote.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace rpc_parallel::detail {

/// One word for the remote shell, whatever it contains.
std::string shell_quote(std::string_view text);

struct captured {
  int status = -1;
  std::string out, err;
};

/// Runs `argv` (argv[0] on PATH) to completion with `input` on its stdin, capturing its output.
boost::asio::awaitable<captured> run_capture(std::vector<std::string> argv, std::string input = {});

/// The last non-empty line of `text`: what ssh says when it fails.
std::string last_line(std::string text);

/// `HOST` as reached with `ssh`: what per-host tables are keyed by (the options can change what
/// a host name means: a config file, a user, a port).
std::string host_key(const ssh_options& ssh, const std::string& host);

/// `ssh OPTIONS -T HOST -- REMOTE...`.
std::vector<std::string> ssh_command(const ssh_options& ssh, const std::string& host,
                                     std::vector<std::string> remote);

}  // namespace rpc_parallel::detail
