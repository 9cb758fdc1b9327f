// What kind of socket carries this process's connections to a given worker.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tests {

/// The inodes of the sockets process `pid` holds ("socket:[INODE]" in /proc/PID/fd).
inline std::set<std::string> socket_inodes_of(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (!ec && target.starts_with("socket:[") && target.ends_with("]"))
      inodes.insert(target.substr(8, target.size() - 9));
  }
  return inodes;
}

/// The local TCP ports of process `pid`'s sockets, from its network namespace's tables.
inline std::set<std::uint16_t> tcp_ports_of(pid_t pid) {
  std::set<std::string> inodes = socket_inodes_of(pid);
  std::set<std::uint16_t> ports;
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + table);
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      if (!inodes.contains(inode)) continue;
      ports.insert(
          static_cast<std::uint16_t>(std::stoul(local.substr(local.find(':') + 1), nullptr, 16)));
    }
  }
  return ports;
}

/// The peer port of a connected TCP socket `fd`, or 0.
inline std::uint16_t tcp_peer_port(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return 0;
  if (address.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  if (address.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  return 0;
}

/// The sockets of this process (their descriptors) and their domains.
inline std::vector<std::pair<int, int>> own_sockets() {
  std::vector<std::pair<int, int>> sockets;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::atoi(entry.path().filename().c_str());
    int domain = 0;
    socklen_t size = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) == 0)
      sockets.emplace_back(fd, domain);
  }
  return sockets;
}

/// One entry per connection of this process to the process `pid` on this host, sorted: "unix"
/// for a Unix-domain socket whose peer is `pid` (SO_PEERCRED), "tcp" for a TCP socket whose
/// peer port is one of `pid`'s.
inline std::vector<std::string> links_to(pid_t pid) {
  std::set<std::uint16_t> theirs = tcp_ports_of(pid);
  std::vector<std::string> kinds;
  for (auto [fd, domain] : own_sockets()) {
    if (domain == AF_UNIX) {
      ucred peer{};
      socklen_t size = sizeof peer;
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 && peer.pid == pid)
        kinds.push_back("unix");
    } else if (domain == AF_INET || domain == AF_INET6) {
      std::uint16_t port = tcp_peer_port(fd);
      if (port != 0 && theirs.contains(port)) kinds.push_back("tcp");
    }
  }
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

/// How many TCP sockets of this process have `port` as their peer port.
inline std::size_t tcp_links_to_port(std::uint16_t port) {
  std::size_t count = 0;
  for (auto [fd, domain] : own_sockets())
    if ((domain == AF_INET || domain == AF_INET6) && tcp_peer_port(fd) == port) ++count;
  return count;
}

}  // namespace tests
