// Worker types shared by the test binaries; every test binary registers all of them.
#pragma once

#include <rpc_parallel/detail/node.hpp>
#include <rpc_parallel/rpc_parallel.hpp>

#include "support/cancel_workers.hpp"
#include "support/death_workers.hpp"
#include "support/links.hpp"
#include "support/map_functions.hpp"
#include "support/natural_workers.hpp"
#include "support/stream_workers.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/serialization/split_member.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tests {

using rpc_parallel::unit;

/// The argv of the calling process, read from /proc.
inline std::vector<std::string> own_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

/// A general-purpose worker: echoes, fails, reports its environment, burns CPU.
/// A value whose encoding is `count` KiB however small it is: for queries far over
/// max_message_size that are cheap to hold.
struct repeated_kib {
  std::uint64_t count = 0;

  template <class Archive>
  void save(Archive& archive, unsigned /*version*/) const {
    archive << count;
    const std::string block(1024, 'k');
    for (std::uint64_t i = 0; i < count; ++i) archive.save_binary(block.data(), block.size());
  }
  template <class Archive>
  void load(Archive& archive, unsigned /*version*/) {
    archive >> count;
    std::string block(1024, '\0');
    for (std::uint64_t i = 0; i < count; ++i) archive.load_binary(block.data(), block.size());
  }
  BOOST_SERIALIZATION_SPLIT_MEMBER()
};

struct echo_worker {
  static constexpr std::string_view name = "echo_worker";
  using spawn_arg = std::string;
  struct state {
    std::string label;
    std::int64_t calls = 0;
  };
  static state init_worker_state(std::string label) { return {std::move(label), 0}; }

  static constexpr rpc_parallel::rpc<echo_worker, std::string, std::string> echo{"echo"};
  static constexpr rpc_parallel::rpc<echo_worker, unit, std::int64_t> count{"count"};
  static constexpr rpc_parallel::rpc<echo_worker, std::string, std::int64_t> fail{"fail"};
  static constexpr rpc_parallel::rpc<echo_worker, std::string, std::string> getenv{"getenv"};
  static constexpr rpc_parallel::rpc<echo_worker, unit, std::string> cwd{"cwd"};
  static constexpr rpc_parallel::rpc<echo_worker, unit, std::int64_t> pid{"pid"};
  static constexpr rpc_parallel::rpc<echo_worker, unit, std::vector<std::string>> argv{"argv"};
  static constexpr rpc_parallel::rpc<echo_worker, std::int64_t, std::int64_t> busy{"busy"};
  static constexpr rpc_parallel::rpc<echo_worker, std::uint64_t, std::string> big{"big"};
  static constexpr rpc_parallel::rpc<echo_worker, std::int64_t, std::int64_t> sleep_async{
      "sleep_async"};
  static constexpr rpc_parallel::rpc<echo_worker, unit, std::string> settings{"settings"};
  static constexpr rpc_parallel::rpc<echo_worker, unit, std::int64_t> umask{"umask"};
  static constexpr rpc_parallel::rpc<echo_worker, unit, std::string> hostname{"hostname"};
  static constexpr rpc_parallel::one_way<echo_worker, std::string> print{"print"};
  /// Writes "out i" to stdout and "err i" to stderr for i in 0..n-1.
  static constexpr rpc_parallel::rpc<echo_worker, std::int64_t, unit> print_lines{"print_lines"};
  static constexpr rpc_parallel::one_way<echo_worker, std::string> explode{"explode"};
  static constexpr rpc_parallel::rpc<echo_worker, repeated_kib, std::uint64_t> count_kib{
      "count_kib"};

  static void implement(rpc_parallel::implementations<echo_worker>& impl) {
    impl.add(echo, [](state& s, std::string text) {
      ++s.calls;
      return s.label + ":" + text;
    });
    impl.add(count, [](state& s, unit) { return ++s.calls; });
    impl.add(fail,
             [](state&, std::string text) -> std::int64_t { throw std::runtime_error(text); });
    impl.add(getenv, [](state&, std::string key) {
      const char* value = std::getenv(key.c_str());
      return value ? std::string(value) : std::string("<none>");
    });
    impl.add(cwd, [](state&, unit) {
      char buffer[4096];
      return std::string(::getcwd(buffer, sizeof buffer) ? buffer : "?");
    });
    impl.add(pid, [](state&, unit) { return static_cast<std::int64_t>(::getpid()); });
    impl.add(argv, [](state&, unit) { return own_argv(); });
    impl.add(busy, [](state&, std::int64_t ms) {
      // Computes without yielding, as a CPU-bound user function would.
      auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      std::int64_t spins = 0;
      while (std::chrono::steady_clock::now() < end) ++spins;
      return spins;
    });
    impl.add(big, [](state&, std::uint64_t size) { return std::string(size, 'x'); });
    impl.add(sleep_async, [](state&, std::int64_t ms) -> boost::asio::awaitable<std::int64_t> {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                      std::chrono::milliseconds(ms));
      co_await timer.async_wait(boost::asio::use_awaitable);
      co_return ms;
    });
    impl.add(settings, [](state&, unit) {
      return rpc_parallel::to_string(rpc_parallel::detail::node::current().settings());
    });
    impl.add(umask, [](state&, unit) {
      mode_t current = ::umask(0);
      ::umask(current);
      return static_cast<std::int64_t>(current);
    });
    impl.add(hostname, [](state&, unit) {
      char name[256] = {};
      ::gethostname(name, sizeof name - 1);
      return std::string(name);
    });
    impl.add(print, [](state&, std::string text) { std::cout << text << std::endl; });
    impl.add(print_lines, [](state&, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i) {
        std::printf("out %lld\n", static_cast<long long>(i));
        std::fprintf(stderr, "err %lld\n", static_cast<long long>(i));
      }
    });
    impl.add(explode, [](state&, std::string text) { throw std::runtime_error(text); });
    impl.add(count_kib, [](state&, repeated_kib q) { return q.count; });
  }
};

/// A worker whose init_worker_state throws its argument.
struct failing_init_worker {
  static constexpr std::string_view name = "failing_init_worker";
  using spawn_arg = std::string;
  struct state {};
  static state init_worker_state(std::string text) { throw std::runtime_error(text); }
  static constexpr rpc_parallel::rpc<failing_init_worker, unit, unit> nothing{"nothing"};
  static void implement(rpc_parallel::implementations<failing_init_worker>& impl) {
    impl.add(nothing, [](state&, unit) { return unit{}; });
  }
};

/// A worker with per-connection state made from the connection argument.
struct session_worker {
  static constexpr std::string_view name = "session_worker";
  using spawn_arg = unit;
  struct state {
    std::int64_t connections = 0;
  };
  using connection_arg = std::string;
  struct connection_state {
    std::string user;
    std::int64_t number = 0;
  };
  static state init_worker_state(unit) { return {}; }
  static connection_state init_connection_state(state& s, std::string user) {
    if (user == "reject me") throw std::runtime_error("text of expected failure: " + user);
    return {std::move(user), ++s.connections};
  }
  static constexpr rpc_parallel::rpc<session_worker, unit, std::string> whoami{"whoami"};
  static void implement(rpc_parallel::implementations<session_worker>& impl) {
    impl.add(whoami, [](state&, connection_state& c, unit) {
      return c.user + "#" + std::to_string(c.number);
    });
  }
};

/// A worker that spawns a chain of `depth` more of its kind in its init (workers as masters).
struct chain_worker {
  static constexpr std::string_view name = "chain_worker";
  using spawn_arg = std::int64_t;
  struct state {
    std::optional<rpc_parallel::connection<chain_worker>> next;
  };
  static boost::asio::awaitable<state> init_worker_state(std::int64_t depth);

  /// (pid, argv) of this worker and of every worker below it.
  static constexpr rpc_parallel::rpc<chain_worker, unit,
                                     std::vector<std::pair<std::int64_t, std::vector<std::string>>>>
      ancestry{"ancestry"};
  static void implement(rpc_parallel::implementations<chain_worker>& impl) {
    impl.add(
        ancestry,
        [](state& s, unit) -> boost::asio::awaitable<
                               std::vector<std::pair<std::int64_t, std::vector<std::string>>>> {
          std::vector<std::pair<std::int64_t, std::vector<std::string>>> below;
          if (s.next) below = co_await s.next->run(ancestry, unit{});
          below.insert(below.begin(), {static_cast<std::int64_t>(::getpid()), own_argv()});
          co_return below;
        });
  }
};

inline boost::asio::awaitable<chain_worker::state> chain_worker::init_worker_state(
    std::int64_t depth) {
  state s;
  if (depth > 0) {
    auto options = rpc_parallel::spawn_options().with_name("chain-" + std::to_string(depth - 1));
    auto next = co_await rpc_parallel::spawn<chain_worker>(
        rpc_parallel::shutdown_on::connection_closed, std::move(options), depth - 1);
    s.next.emplace(std::move(next));
  }
  co_return s;
}

/// A worker that calls another worker it is handed (Rpc_parallel's worker_binprot).
struct dispatcher_worker {
  static constexpr std::string_view name = "dispatcher_worker";
  using spawn_arg = unit;
  struct state {};
  static state init_worker_state(unit) { return {}; }
  static constexpr rpc_parallel::rpc<dispatcher_worker, rpc_parallel::worker<echo_worker>,
                                     std::int64_t>
      count_on{"count_on"};
  /// What kinds of socket (support/links.hpp) this worker's connection to the target uses.
  static constexpr rpc_parallel::rpc<dispatcher_worker, rpc_parallel::worker<echo_worker>,
                                     std::vector<std::string>>
      links_to_target{"links_to_target"};
  static void implement(rpc_parallel::implementations<dispatcher_worker>& impl) {
    impl.add(links_to_target,
             [](state&, rpc_parallel::worker<echo_worker> target)
                 -> boost::asio::awaitable<std::vector<std::string>> {
               auto connection = co_await rpc_parallel::connect(target);
               std::int64_t pid = co_await connection.run(echo_worker::pid, unit{});
               co_return links_to(static_cast<pid_t>(pid));
             });
    impl.add(count_on,
             [](state&,
                rpc_parallel::worker<echo_worker> target) -> boost::asio::awaitable<std::int64_t> {
               auto connection = co_await rpc_parallel::connect(target);
               std::int64_t n = co_await connection.run(echo_worker::count, unit{});
               co_return n;
             });
  }
};

/// Declares only what is required: a name and its functions.
struct minimal_worker {
  static constexpr std::string_view name = "minimal_worker";
  static constexpr rpc_parallel::rpc<minimal_worker, std::int64_t, std::int64_t> twice{"twice"};
  static void implement(rpc_parallel::implementations<minimal_worker>& impl) {
    impl.add(twice, [](std::int64_t x) { return 2 * x; });
  }
};

inline void register_test_workers(rpc_parallel::app& app) {
  app.add_worker<echo_worker>()
      .add_worker<failing_init_worker>()
      .add_worker<session_worker>()
      .add_worker<chain_worker>()
      .add_worker<dispatcher_worker>()
      .add_worker<minimal_worker>()
      .add_worker<stream_worker>()
      .add_worker<natural_worker>()
      .add_worker<cancel_worker>()
      .add_worker<death_worker>()
      .add_worker<slow_init_worker>();
  register_map_functions(app);
}

}  // namespace tests
