// The check before the first worker starts from a binary on another host: that the file there
// is this binary (SHA-256), built for that host's architecture, and able to start (the probe).
#pragma once

#include "ssh_command.hpp"

#include <string>

namespace rpc_parallel::detail {

/// SHA-256 of this binary in hex, read once through /proc/self/exe (a renamed binary counts).
const std::string& local_binary_hash();
/// The bytes of this binary, in one read.
std::string own_binary();
/// `uname -m` of this host.
const std::string& local_architecture();

/// A shell script that prints the file's sha256sum line (unless `content_known`), "arch
/// MACHINE", the probe's output and "probe STATUS": one round trip for the whole check.
std::string preflight_script(const std::string& path, bool content_known = false);

/// Reads what `preflight_script` printed and throws `rpc_error` naming `where_path`
/// ("HOST:PATH") with what to do: `missing_advice` when the file cannot be read, else the
/// advice for a different file, another architecture, a noexec mount or missing libraries.
void check_preflight(const captured& result, const std::string& where_path, const std::string& host,
                     const std::string& missing_advice, bool content_known = false);

}  // namespace rpc_parallel::detail
