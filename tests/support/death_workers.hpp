// A worker that dies in the ways a death report must tell apart (death_report_test.cpp).
#pragma once

#include <rpc_parallel/rpc_parallel.hpp>

#include <sys/mman.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tests {

struct death_worker {
  static constexpr std::string_view name = "death_worker";
  static constexpr rpc_parallel::rpc<death_worker, rpc_parallel::unit, std::int64_t> pid{"pid"};
  /// Prints its query to stderr, then abort()s.
  static constexpr rpc_parallel::rpc<death_worker, std::string, rpc_parallel::unit> abort_after{
      "abort_after"};
  static constexpr rpc_parallel::rpc<death_worker, std::int64_t, rpc_parallel::unit>
      write_protected{"write_protected"};
  static constexpr rpc_parallel::rpc<death_worker, std::int64_t, rpc_parallel::unit> exit_with{
      "exit_with"};
  /// Allocates and touches its query's MiB, 4 MiB at a time; returns the MiB it holds.
  static constexpr rpc_parallel::rpc<death_worker, std::int64_t, std::int64_t> allocate_mib{
      "allocate_mib"};
  /// Sleeps its query's milliseconds in a plain function.
  static constexpr rpc_parallel::rpc<death_worker, std::int64_t, rpc_parallel::unit> sleep{"sleep"};

  // Named functions, so that the stack traces have a name to show.
  [[gnu::noinline]] static void abort_after_printing(const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::abort();
  }
  // A real fault without undefined behaviour (which a sanitizer would stop first): a store to
  // a mapped page that allows no access.
  [[gnu::noinline]] static void write_to_protected_page(std::int64_t value) {
    void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) std::abort();
    *static_cast<volatile std::int64_t*>(page) = value;
  }

  static void implement(rpc_parallel::implementations<death_worker>& impl) {
    impl.add(pid, [](rpc_parallel::unit) { return static_cast<std::int64_t>(::getpid()); });
    impl.add(abort_after, [](std::string line) { abort_after_printing(line); });
    impl.add(write_protected, [](std::int64_t value) { write_to_protected_page(value); });
    impl.add(exit_with, [](std::int64_t code) { std::exit(static_cast<int>(code)); });
    impl.add(allocate_mib, [](std::int64_t mib) {
      std::vector<std::unique_ptr<char[]>> held;
      for (std::int64_t i = 0; i < mib / 4; ++i) {
        held.emplace_back(new char[4 << 20]);
        std::memset(held.back().get(), static_cast<int>(i), 4 << 20);
      }
      return static_cast<std::int64_t>(held.size() * 4);
    });
    impl.add(sleep, [](std::int64_t ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return rpc_parallel::unit{};
    });
  }
};

/// A worker whose init_worker_state blocks for its spawn argument's milliseconds.
struct slow_init_worker {
  static constexpr std::string_view name = "slow_init_worker";
  using spawn_arg = std::int64_t;
  struct state {};
  static state init_worker_state(std::int64_t ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return {};
  }
  static constexpr rpc_parallel::rpc<slow_init_worker, rpc_parallel::unit, rpc_parallel::unit>
      nothing{"nothing"};
  static void implement(rpc_parallel::implementations<slow_init_worker>& impl) {
    impl.add(nothing, [](state&, rpc_parallel::unit) { return rpc_parallel::unit{}; });
  }
};

}  // namespace tests
