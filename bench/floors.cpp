#include "floors.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

extern char** environ;

namespace bench {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

int listen_loopback(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0, "bind");
  check(::listen(fd, 128) == 0, "listen");
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  port = ntohs(address.sin_port);
  return fd;
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  check(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0, "connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int accept_one(int listener) {
  int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  check(fd >= 0, "accept");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// An abstract Unix-domain socket named after `id` (this process's pid), as the framework's
// same-host sockets are.
sockaddr_un unix_address(int id, socklen_t& size) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string name = "rpc_parallel-bench-floor-" + std::to_string(id);
  std::memcpy(address.sun_path + 1, name.data(), name.size());  // sun_path[0] == 0: abstract
  size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return address;
}

int listen_unix(int id) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t size = 0;
  sockaddr_un address = unix_address(id, size);
  check(::bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0, "bind");
  check(::listen(fd, 128) == 0, "listen");
  return fd;
}

int connect_unix(int id) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t size = 0;
  sockaddr_un address = unix_address(id, size);
  check(::connect(fd, reinterpret_cast<sockaddr*>(&address), size) == 0, "connect");
  return fd;
}

bool read_exactly(int fd, char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

pid_t spawn_self(const char* mode, int port, std::string extra = {}) {
  std::string port_text = std::to_string(port);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, const_cast<char*>(mode), port_text.data(),
                  extra.empty() ? nullptr : extra.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, self, nullptr, nullptr, argv, environ);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  return pid;
}

}  // namespace

std::optional<int> run_floor_child(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--floor-source") {
    // After the parent's go byte, write argv[3] bytes in 1 MiB writes, then close.
    int fd = connect_loopback(std::atoi(argv[2]));
    char go;
    if (!read_exactly(fd, &go, 1)) return 1;
    std::vector<char> chunk(std::size_t(1) << 20, 'c');
    for (long long left = std::atoll(argv[3]); left > 0;) {
      ssize_t n = ::write(fd, chunk.data(),
                          std::min<std::size_t>(chunk.size(), static_cast<std::size_t>(left)));
      if (n <= 0) return 1;
      left -= n;
    }
    return 0;
  }
  if (argc != 3) return std::nullopt;
  std::string mode = argv[1];
  int port = std::atoi(argv[2]);
  if (mode == "--floor-connect-back") {
    int fd = connect_loopback(port);
    char byte = 1;
    return ::write(fd, &byte, 1) == 1 ? 0 : 1;
  }
  if (mode == "--floor-echo" || mode == "--floor-echo-unix") {  // echo 16-byte messages to EOF
    int fd = mode == "--floor-echo" ? connect_loopback(port) : connect_unix(port);
    char message[16];
    while (read_exactly(fd, message, sizeof message))
      if (::write(fd, message, sizeof message) != sizeof message) return 1;
    return 0;
  }
  if (mode == "--floor-sink" || mode == "--floor-sink-unix") {  // read to EOF, then ack a byte
    int fd = mode == "--floor-sink" ? connect_loopback(port) : connect_unix(port);
    char buffer[65536];
    while (::read(fd, buffer, sizeof buffer) > 0) {
    }
    char byte = 1;
    return ::write(fd, &byte, 1) == 1 ? 0 : 1;
  }
  return std::nullopt;
}

double spawn_connect_back() { return spawn_connect_back_many(1); }

double spawn_connect_back_many(int count) {
  int port = 0;
  int listener = listen_loopback(port);
  auto start = clock_type::now();
  std::vector<pid_t> children;
  for (int i = 0; i < count; ++i) children.push_back(spawn_self("--floor-connect-back", port));
  for (int i = 0; i < count; ++i) {
    int fd = accept_one(listener);
    char byte;
    read_exactly(fd, &byte, 1);
    ::close(fd);
  }
  double elapsed = seconds_since(start);
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  ::close(listener);
  return elapsed;
}

namespace {

std::vector<double> ping_pong(int listener, pid_t child, int round_trips) {
  int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  check(fd >= 0, "accept");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on Unix
  std::vector<double> samples;
  char message[16] = "ping-pong-16-b!";
  for (int i = 0; i < round_trips; ++i) {
    auto start = clock_type::now();
    check(::write(fd, message, sizeof message) == sizeof message, "write");
    check(read_exactly(fd, message, sizeof message), "read");
    samples.push_back(seconds_since(start));
  }
  ::close(fd);
  ::close(listener);
  ::waitpid(child, nullptr, 0);
  return samples;
}

}  // namespace

std::vector<double> tcp_ping_pong(int round_trips) {
  int port = 0;
  int listener = listen_loopback(port);
  return ping_pong(listener, spawn_self("--floor-echo", port), round_trips);
}

std::vector<double> unix_ping_pong(int round_trips) {
  int id = static_cast<int>(::getpid());
  int listener = listen_unix(id);
  return ping_pong(listener, spawn_self("--floor-echo-unix", id), round_trips);
}

namespace {

double write_to_sink(int listener, pid_t child, int messages) {
  int fd = accept_one(listener);  // its TCP_NODELAY fails harmlessly on a Unix socket
  char message[16] = "sixteen bytes!!";
  auto start = clock_type::now();
  for (int i = 0; i < messages; ++i)
    check(::write(fd, message, sizeof message) == sizeof message, "write");
  ::shutdown(fd, SHUT_WR);
  char ack;
  read_exactly(fd, &ack, 1);
  double elapsed = seconds_since(start);
  ::close(fd);
  ::close(listener);
  ::waitpid(child, nullptr, 0);
  return messages / elapsed;
}

}  // namespace

double one_write_per_message(int messages) {
  int port = 0;
  int listener = listen_loopback(port);
  return write_to_sink(listener, spawn_self("--floor-sink", port), messages);
}

double one_write_per_message_unix(int messages) {
  int id = static_cast<int>(::getpid());
  int listener = listen_unix(id);
  return write_to_sink(listener, spawn_self("--floor-sink-unix", id), messages);
}

double tcp_copy(std::uint64_t bytes, bool into_new_buffer) {
  int port = 0;
  int listener = listen_loopback(port);
  pid_t child = spawn_self("--floor-source", port, std::to_string(bytes));
  int fd = accept_one(listener);
  std::vector<char> reused(std::size_t(1) << 20);
  char go = 1;
  auto start = clock_type::now();
  check(::write(fd, &go, 1) == 1, "write");
  // malloc leaves a new buffer untouched, so its first write page-faults as a new value would.
  std::unique_ptr<char[]> fresh(into_new_buffer ? new char[bytes] : nullptr);
  std::uint64_t received = 0;
  for (;;) {
    char* into = fresh ? fresh.get() + received : reused.data();
    std::size_t room = fresh ? bytes - received : reused.size();
    ssize_t n = room == 0 ? 0 : ::read(fd, into, room);
    check(n >= 0, "read");
    if (n == 0) break;
    received += static_cast<std::uint64_t>(n);
  }
  double elapsed = seconds_since(start);
  ::close(fd);
  ::close(listener);
  ::waitpid(child, nullptr, 0);
  if (received != bytes) throw std::runtime_error("tcp_copy: short read");
  return static_cast<double>(bytes) / elapsed;
}

}  // namespace bench
