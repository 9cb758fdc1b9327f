#include "rpc_parallel/detail/status_tool.hpp"

#include "rpc_parallel/detail/status_endpoint.hpp"

#include <boost/json.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace rpc_parallel::detail {
namespace json = boost::json;

namespace {

struct tool_args {
  std::string request;  // "status" or "stacks"
  long pid = 0;
  bool as_json = false;
};

tool_args parse(int argc, char** argv) {
  tool_args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--rpc-status")
      a.request = "status";
    else if (arg == "--rpc-stacks")
      a.request = "stacks";
    else if (arg == "--json")
      a.as_json = true;
    else if (!arg.empty() && arg.find_first_not_of("0123456789") == std::string::npos)
      a.pid = std::stol(arg);
    else
      throw std::runtime_error(
          "unexpected argument \"" + arg +
          "\": use --rpc-status [PID] [--json] or --rpc-stacks [PID] [--json]");
  }
  return a;
}

std::string command_of(long pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), "r");
  if (!f) return "?";
  char buffer[200] = {};
  std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
  std::fclose(f);
  for (std::size_t i = 0; i + 1 < n; ++i)
    if (buffer[i] == 0) buffer[i] = ' ';
  return buffer;
}

// The socket of the master to ask.
std::string endpoint_of(const tool_args& a) {
  std::string dir = status_directory();
  if (a.pid) {
    std::string path = dir + "/" + std::to_string(a.pid) + ".sock";
    if (!std::filesystem::exists(path))
      throw std::runtime_error("process " + std::to_string(a.pid) +
                               " is no master of this user's running with rpc_parallel (no " +
                               path + ")");
    return path;
  }
  std::vector<long> running;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (entry.path().extension() != ".sock") continue;
    long pid = std::atol(name.c_str());
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) running.push_back(pid);
  }
  if (running.empty())
    throw std::runtime_error("no master of this user's runs (nothing in " + dir +
                             "); start the app first");
  if (running.size() > 1) {
    std::string list;
    for (long pid : running) list += "\n  " + std::to_string(pid) + "  " + command_of(pid);
    throw std::runtime_error("several masters run; name one by its PID (--rpc-status PID):" + list);
  }
  return dir + "/" + std::to_string(running.front()) + ".sock";
}

std::string ask(const std::string& path, const std::string& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  timeval limit{30, 0};  // stacks of many workers take a while; a hung master must not hang us
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot connect to " + path + ": " + why);
  }
  std::string line = request + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    throw std::runtime_error("cannot ask " + path);
  }
  std::string answer;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      answer.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fd);
  if (answer.empty()) throw std::runtime_error("the master at " + path + " did not answer");
  return answer;
}

std::string mib(const json::value& bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", bytes.to_number<double>() / (1024.0 * 1024.0));
  return text;
}

std::string secs(const json::value& s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", s.to_number<double>());
  return text;
}

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

std::string state_of(const json::object& report) {
  if (str(report, "state") != "busy") return "idle";
  return "busy in " + str(report, "busy_function") + " for " + secs(report.at("busy_seconds"));
}

void print_process(std::ostream& out, const json::object& r) {
  out << "pid " << str(r, "pid") << " on " << str(r, "host") << ", up "
      << secs(r.at("uptime_seconds")) << ", " << mib(r.at("rss_bytes")) << " resident, "
      << (r.contains("cpu_seconds") ? secs(r.at("cpu_seconds")) : "?") << " CPU, " << state_of(r)
      << "\n";
  for (const auto& c : r.at("calls").as_array()) {
    const json::object& call = c.as_object();
    out << "    serving " << str(call, "function") << " for " << secs(call.at("age_seconds"))
        << (call.at("holds_thread").as_bool() ? " (holding its user thread)" : "") << "\n";
  }
}

void print_status(std::ostream& out, const json::object& all) {
  const json::object& master = all.at("master").as_object();
  out << "master ";
  print_process(out, master);
  for (const auto& m : master.at("maps").as_array()) {
    const json::object& p = m.as_object();
    out << "  map-reduce: " << str(p, "done");
    if (p.contains("total")) out << " of " << str(p, "total");
    out << " done, " << str(p, "in_flight") << " in flight, " << str(p, "retried") << " retried, "
        << str(p, "speculated") << " speculated, " << str(p, "failed") << " failed, "
        << str(p, "workers") << " workers, " << secs(p.at("elapsed_seconds")) << "\n";
  }
  for (const auto& w : all.at("workers").as_array()) {
    const json::object& worker = w.as_object();
    out << "worker \"" << str(worker, "name") << "\" (" << str(worker, "type") << "): ";
    std::string state = str(worker, "state");
    if (state == "ended") {
      out << "on " << str(worker, "host") << ", ended: " << str(worker, "ended") << "\n";
    } else if (state == "unreachable") {
      out << "pid " << str(worker, "pid") << " on " << str(worker, "host")
          << ", did not answer: " << str(worker, "unreachable") << "\n";
    } else {
      const json::object& r = worker.at("report").as_object();
      print_process(out, r);
      if (str(r, "stream_ends_open") != "0")
        out << "    stream ends open: " << str(r, "stream_ends_open") << "\n";
    }
    if (str(worker, "restarts") != "0")
      out << "    restarted " << str(worker, "restarts") << " times under this name\n";
  }
}

void print_stacks(std::ostream& out, const json::object& r, const std::string& title) {
  out << "== " << title << ", pid " << str(r, "pid") << " on " << str(r, "host") << ": "
      << state_of(r) << "\n";
  auto* stacks = r.if_contains("stacks");
  if (!stacks) return;
  for (const char* thread : {"user_thread", "framework_thread"}) {
    auto* frames = stacks->as_object().if_contains(thread);
    if (!frames) continue;
    out << (std::string(thread) == "user_thread" ? "user thread:\n" : "framework thread:\n");
    for (const auto& f : frames->as_array()) out << "  " << f.as_string().c_str() << "\n";
  }
}

}  // namespace

bool asks_for_status_tool(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--rpc-status") == 0 || std::strcmp(argv[i], "--rpc-stacks") == 0)
      return true;
  return false;
}

int run_status_tool(int argc, char** argv) {
  try {
    tool_args a = parse(argc, argv);
    std::string answer = ask(endpoint_of(a), a.request);
    if (a.as_json) {
      std::cout << answer << std::flush;
      return 0;
    }
    json::object all = json::parse(answer).as_object();
    if (all.contains("error")) throw std::runtime_error(str(all, "error"));
    if (a.request == "status") {
      print_status(std::cout, all);
    } else {
      print_stacks(std::cout, all.at("master").as_object(), "master");
      for (const auto& w : all.at("workers").as_array()) {
        const json::object& worker = w.as_object();
        if (auto* r = worker.if_contains("report"))
          print_stacks(std::cout, r->as_object(),
                       "worker \"" + str(worker, "name") + "\" (" + str(worker, "type") + ")");
      }
    }
    std::cout << std::flush;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "rpc_parallel: " << e.what() << std::endl;
    return 2;
  }
}

}  // namespace rpc_parallel::detail
