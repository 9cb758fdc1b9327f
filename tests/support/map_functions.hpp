// Map and reduce functions for tests/map_reduce_test.cpp.
#pragma once

#include <rpc_parallel/map_reduce.hpp>

#include <unistd.h>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tests {

struct add_thousand {
  static constexpr std::string_view name = "add_thousand";
  using input = std::int64_t;
  using output = std::int64_t;
  static output map(input x) { return x + 1000; }
};

/// x, and the pid of the worker that mapped it.
struct with_pid {
  static constexpr std::string_view name = "with_pid";
  using input = std::int64_t;
  using output = std::pair<std::int64_t, std::int64_t>;
  static output map(input x) { return {x, static_cast<std::int64_t>(::getpid())}; }
};

/// The worker's working directory and the value of the environment variable named by the input.
struct where_mapped {
  static constexpr std::string_view name = "where_mapped";
  using input = std::string;
  using output = std::pair<std::string, std::string>;
  static output map(const input& variable) {
    char cwd[4096];
    const char* value = std::getenv(variable.c_str());
    return {::getcwd(cwd, sizeof cwd) ? cwd : "?", value ? value : "<none>"};
  }
};

/// The types of the integer map functions below.
struct int_to_int {
  using input = std::int64_t;
  using output = std::int64_t;
};

/// Throws on item 537.
struct fails_on_537 : int_to_int {
  static constexpr std::string_view name = "fails_on_537";
  static output map(input x) {
    if (x == 537) throw std::runtime_error("537 is not welcome");
    return x;
  }
};

/// Every worker that maps anything dies at once.
struct dies : int_to_int {
  static constexpr std::string_view name = "dies";
  static output map(input) {
    ::raise(SIGKILL);
    return 0;
  }
};

/// The first x divisible by 777 (but not 0), if any.
struct find_777 {
  static constexpr std::string_view name = "find_777";
  using input = std::int64_t;
  using output = std::optional<std::int64_t>;
  static output map(input x) { return x > 0 && x % 777 == 0 ? output(x) : std::nullopt; }
};

/// Each worker's state from the parameter: "[worker N] param".
struct greet {
  static constexpr std::string_view name = "greet";
  using param = std::string;
  struct state {
    std::string greeting;
  };
  using input = std::int64_t;
  using output = std::string;
  static state init(param p, std::uint64_t worker) {
    return {"[worker " + std::to_string(worker) + "] " + p};
  }
  static output map(state& s, input) { return s.greeting; }
};

struct sum {
  static constexpr std::string_view name = "sum";
  using input = std::int64_t;
  using accum = std::int64_t;
  static accum map(input x) { return x; }
  static accum combine(accum a, accum b) { return a + b; }
};

/// Concatenation: order-sensitive, so map_reduce must combine in input order.
struct concat {
  static constexpr std::string_view name = "concat";
  using input = std::int64_t;
  using accum = std::vector<std::int64_t>;
  static accum map(input x) { return {x}; }
  static accum combine(accum a, accum b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
};

/// Computes 2 s without yielding, then returns the input's size (for large inputs).
struct slow_size {
  static constexpr std::string_view name = "slow_size";
  using input = std::string;
  using output = std::uint64_t;
  static output map(const input& bytes) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < end) {
    }
    return bytes.size();
  }
};

/// Crashes its worker (SIGSEGV) on 537: a poison item.
struct crashes_on_537 : int_to_int {
  static constexpr std::string_view name = "crashes_on_537";
  static output map(input x) {
    if (x == 537) ::raise(SIGSEGV);
    return x;
  }
};

/// Sleeps 1 ms, then returns the worker's pid (a job of many short items).
struct sleepy_pid : int_to_int {
  static constexpr std::string_view name = "sleepy_pid";
  static output map(input) {
    ::usleep(1000);
    return static_cast<std::int64_t>(::getpid());
  }
};

/// Sleeps as many ms as its input, then returns the worker's pid.
struct naps : int_to_int {
  static constexpr std::string_view name = "naps";
  static output map(input ms) {
    ::usleep(static_cast<useconds_t>(ms * 1000));
    return static_cast<std::int64_t>(::getpid());
  }
};

/// x and the name of the host (the node) that mapped it.
struct host_of {
  static constexpr std::string_view name = "host_of";
  using input = std::int64_t;
  using output = std::pair<std::int64_t, std::string>;
  static output map(input x) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return {x, host};
  }
};

template <class App>
void register_map_functions(App& app) {
  using rpc_parallel::map_worker;
  app.template add_worker<map_worker<add_thousand>>()
      .template add_worker<map_worker<with_pid>>()
      .template add_worker<map_worker<fails_on_537>>()
      .template add_worker<map_worker<dies>>()
      .template add_worker<map_worker<find_777>>()
      .template add_worker<map_worker<greet>>()
      .template add_worker<map_worker<sum>>()
      .template add_worker<map_worker<concat>>()
      .template add_worker<map_worker<where_mapped>>()
      .template add_worker<map_worker<slow_size>>()
      .template add_worker<map_worker<sleepy_pid>>()
      .template add_worker<map_worker<crashes_on_537>>()
      .template add_worker<map_worker<naps>>()
      .template add_worker<map_worker<host_of>>();
}

}  // namespace tests
