#include "preflight.hpp"

#include "rpc_parallel/detail/launcher.hpp"
#include "rpc_parallel/error.hpp"

#include <sodium.h>

#include <sys/utsname.h>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace rpc_parallel::detail {

const std::string& local_binary_hash() {
  static const std::string hash = [] {
    std::ifstream in("/proc/self/exe", std::ios::binary);
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    std::vector<char> buffer(1 << 16);
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
      crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(buffer.data()),
                                static_cast<unsigned long long>(in.gcount()));
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state, digest);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return std::string(hex);
  }();
  return hash;
}

// The bytes of this binary, in one read (a byte-wise istreambuf_iterator took 20 s for a
// 70 MB sanitizer build).
std::string own_binary() {
  std::ifstream in("/proc/self/exe", std::ios::binary | std::ios::ate);
  std::string bytes(in ? static_cast<std::size_t>(in.tellg()) : 0, '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    throw rpc_error(
        {error_kind::failed, "copy_to_host: cannot read this binary through /proc/self/exe"});
  return bytes;
}

const std::string& local_architecture() {
  static const std::string machine = [] {
    struct utsname names {};
    ::uname(&names);
    return std::string(names.machine);
  }();
  return machine;
}

std::string preflight_script(const std::string& path, bool content_known) {
  std::string quoted = shell_quote(path);
  std::string script = content_known ? "" : "sha256sum -- " + quoted + "; ";
  script += "echo \"arch $(uname -m)\"; ";
  script += probe_env_var;
  script += "=1 " + quoted + " 2>&1; echo \"probe $?\"";
  return script;
}

void check_preflight(const captured& result, const std::string& where_path, const std::string& host,
                     const std::string& missing_advice, bool content_known) {
  std::istringstream lines(result.out);
  std::string hash, arch, probe_output, line;
  int probe_status = -1;
  for (bool first = true; std::getline(lines, line); first = false) {
    if (first && !content_known && line.find("  ") == 2 * crypto_hash_sha256_BYTES)
      hash = line.substr(0, line.find(' '));
    else if (line.rfind("arch ", 0) == 0 && arch.empty())
      arch = line.substr(5);
    else if (line.rfind("probe ", 0) == 0)
      probe_status = std::atoi(line.c_str() + 6);
    else
      probe_output = line;
  }
  if (!content_known && hash.empty())
    throw rpc_error({error_kind::failed, "the remote executable " + where_path +
                                             " cannot be read (" + last_line(result.err) + "); " +
                                             missing_advice});
  if (!content_known && hash != local_binary_hash())
    throw rpc_error({error_kind::failed, "the remote executable " + where_path +
                                             " does not match the local executable"});
  if (arch != local_architecture())
    throw rpc_error({error_kind::failed, "the remote executable " + where_path +
                                             " cannot run there: " + host + " is " + arch +
                                             ", this binary is built for " + local_architecture()});
  if (probe_status == 0 && probe_output == probe_answer) return;
  if (probe_status == 126)
    throw rpc_error({error_kind::failed,
                     "cannot execute the remote executable " + where_path + " (" + probe_output +
                         "): its directory is probably mounted noexec; "
                         "copy it to one that allows executing (copy_options::with_dir)"});
  if (probe_output.find("error while loading shared libraries") != std::string::npos)
    throw rpc_error(
        {error_kind::failed, "the remote executable " + where_path + " cannot start on " + host +
                                 ": " + probe_output +
                                 "; install those libraries there or deploy a static build "
                                 "(docs/remote.md)"});
  throw rpc_error({error_kind::failed, "cannot execute the remote executable " + where_path +
                                           " (exit status " + std::to_string(probe_status) + ": " +
                                           probe_output + ")"});
}

}  // namespace rpc_parallel::detail
