#include "rpc_parallel/detail/rendezvous.hpp"

#include "rpc_parallel/error.hpp"

#include <sodium.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rpc_parallel::detail {
namespace {

[[noreturn]] void fail(std::string what) { throw rpc_error({error_kind::failed, std::move(what)}); }

std::string hex_of(const secret& key) {
  char hex[2 * sizeof(secret) + 1];
  sodium_bin2hex(hex, sizeof hex, key.data(), key.size());
  return hex;
}

// Writes `text` to `path` with mode 0600: to PATH.tmp.PID first, then renamed into place.
void write_private(const std::string& path, const std::string& text, const char* what) {
  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fail(std::string("cannot write the ") + what + " " + temporary + ": " + std::strerror(errno) +
         " (is its directory there and writable?)");
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::fchmod(fd, 0600) == 0 && written;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
    ::unlink(temporary.c_str());
    fail(std::string("cannot write the ") + what + " " + path + ": " + std::strerror(errno));
  }
}

// The file's text; empty optional when it does not exist. Refuses one others may read.
std::optional<std::string> read_private(const std::string& path, const char* what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::nullopt;
  if (fd < 0)
    fail(std::string("cannot read the ") + what + " " + path + ": " + std::strerror(errno));
  struct stat info {};
  ::fstat(fd, &info);
  if ((info.st_mode & 077) != 0 || info.st_uid != ::getuid()) {
    ::close(fd);
    fail(std::string("the ") + what + " " + path +
         " may be read by other users, so its secret is no secret: make it yours with mode 0600");
  }
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return text;
}

}  // namespace

std::vector<std::string> host_addresses() {
  std::vector<std::string> outside, loopback;
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) == 0) {
    for (ifaddrs* a = all; a; a = a->ifa_next) {
      if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP)) continue;
      char text[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text,
                  sizeof text);
      (a->ifa_flags & IFF_LOOPBACK ? loopback : outside).push_back(text);
    }
    ::freeifaddrs(all);
  }
  outside.insert(outside.end(), loopback.begin(), loopback.end());
  if (outside.empty()) outside.push_back("127.0.0.1");
  return outside;
}

void write_rendezvous(const std::string& path, const rendezvous& r) {
  std::string text = "rpc_parallel rendezvous 1\nport " + std::to_string(r.port) + "\n";
  for (const auto& address : r.addresses) text += "address " + address + "\n";
  text += "secret " + hex_of(r.key) + "\n";
  write_private(path, text, "rendezvous file");
}

std::optional<rendezvous> read_rendezvous(const std::string& path) {
  auto text = read_private(path, "rendezvous file");
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  std::string header;
  std::getline(lines, header);
  if (header != "rpc_parallel rendezvous 1")
    fail("the rendezvous file " + path + " is not one (its first line is \"" + header + "\")");
  rendezvous r;
  bool has_key = false;
  for (std::string key, value; lines >> key >> value;) {
    if (key == "port") r.port = static_cast<std::uint16_t>(std::stoul(value));
    if (key == "address") r.addresses.push_back(value);
    if (key == "secret") {
      r.key = secret_from_hex(value, "the rendezvous file " + path);
      has_key = true;
    }
  }
  if (r.port == 0 || r.addresses.empty() || !has_key)
    fail("the rendezvous file " + path + " lacks its port, address or secret");
  return r;
}

void write_secret_file(const std::string& path, const secret& key) {
  write_private(path, hex_of(key) + "\n", "secret file");
}

secret read_secret_file(const std::string& path) {
  auto text = read_private(path, "secret file");
  if (!text) fail("the secret file " + path + " does not exist");
  std::string hex = text->substr(0, text->find_first_of(" \n"));
  return secret_from_hex(hex, "the secret file " + path);
}

secret secret_from_hex(const std::string& hex, const std::string& where) {
  secret key{};
  std::size_t length = 0;
  if (hex.size() != 2 * key.size() ||
      sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &length, nullptr) !=
          0 ||
      length != key.size())
    fail(where + " holds no secret (64 hex digits)");
  return key;
}

}  // namespace rpc_parallel::detail
