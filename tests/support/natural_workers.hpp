// A worker type used the way a newcomer writes code: braced aggregates and by-value lambdas
// inline in co_await expressions, designated initializers, co_return T{...}. For
// tests/natural_code_test.cpp, which runs on the default toolchain and under ASan + UBSan.
#pragma once

#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace tests {

/// An aggregate that owns memory: destroying it twice is a double free.
struct job {
  std::string text;
  int repeat = 1;
  template <class Archive>
  void serialize(Archive& a, unsigned) {
    a& text& repeat;
  }
};

struct natural_worker {
  static constexpr std::string_view name = "natural_worker";
  using spawn_arg = std::string;
  /// Move-only and without a default constructor: init_worker_state makes it.
  struct state {
    explicit state(std::string p)
        : prefix(std::move(p)), renders(std::make_unique<std::int64_t>(0)) {}
    std::string prefix;
    std::unique_ptr<std::int64_t> renders;
  };
  static state init_worker_state(std::string prefix) { return state(std::move(prefix)); }

  /// prefix + text repeated.
  static constexpr rpc_parallel::rpc<natural_worker, job, std::string> render{"render"};
  /// The job back with the prefix added and the repeat doubled, from a coroutine.
  static constexpr rpc_parallel::rpc<natural_worker, job, job> grow{"grow"};
  /// Renders `text` on `peer`, from inside this worker's coroutine, in every natural form.
  static constexpr rpc_parallel::rpc<
      natural_worker, std::pair<rpc_parallel::worker<natural_worker>, std::string>, std::string>
      relay{"relay"};
  /// prefix + the streamed strings, joined by '+'.
  static constexpr rpc_parallel::reverse_pipe_rpc<natural_worker, rpc_parallel::unit, std::string,
                                                  std::string>
      join{"join"};
  /// How many times `render` ran.
  static constexpr rpc_parallel::rpc<natural_worker, rpc_parallel::unit, std::int64_t> renders{
      "renders"};
  /// (length, text) of its argument.
  static constexpr rpc_parallel::rpc<natural_worker, std::string,
                                     std::pair<std::int64_t, std::string>>
      measure{"measure"};

  static std::string rendered(const state& s, const job& j) {
    std::string out = s.prefix;
    for (int i = 0; i < j.repeat; ++i) out += j.text;
    return out;
  }

  static void implement(rpc_parallel::implementations<natural_worker>& impl) {
    impl.add(render, [](state& s, job j) {
      ++*s.renders;
      return rendered(s, j);
    });
    impl.add(renders, [](state& s, rpc_parallel::unit) { return *s.renders; });
    impl.add(grow, [](state& s, job j) -> boost::asio::awaitable<job> {
      co_return job{s.prefix + j.text, j.repeat * 2};
    });
    impl.add(relay,
             [](state& s, std::pair<rpc_parallel::worker<natural_worker>, std::string> q)
                 -> boost::asio::awaitable<std::string> {
               auto c = co_await rpc_parallel::connect(q.first);
               std::string a = co_await c.run(render, job{q.second, 2});
               std::string b = co_await c.run(render, {.text = s.prefix + q.second, .repeat = 1});
               std::string label = s.prefix;
               std::string d = co_await rpc_parallel::with_client(
                   q.first, rpc_parallel::unit{},
                   [label, text = q.second](rpc_parallel::connection<natural_worker>& peer)
                       -> boost::asio::awaitable<std::string> {
                     std::string r = co_await peer.run(render, job{label + text, 1});
                     co_return r;
                   });
               auto [length, text] = co_await c.run(measure, a + b + d);
               co_return std::to_string(length) + ":" + text;
             });
    impl.add(
        join,
        [](state& s, rpc_parallel::unit,
           rpc_parallel::stream_reader<std::string> values) -> boost::asio::awaitable<std::string> {
          std::string out = s.prefix;
          while (auto value = co_await values.next()) out += *value + "+";
          co_return out;
        });
    impl.add(measure, [](state&, std::string text) {
      return std::pair<std::int64_t, std::string>{static_cast<std::int64_t>(text.size()), text};
    });
  }
};

}  // namespace tests
