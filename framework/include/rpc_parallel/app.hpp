// The entry point: one binary that is the master when run by a user and a worker when
// re-executed by the framework.
#pragma once

#include "rpc_parallel/detail/gcc12_notice.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/rpc_settings.hpp"
#include "rpc_parallel/worker_type.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>

namespace boost::program_options {
class options_description;
class variables_map;
}  // namespace boost::program_options

namespace rpc_parallel {

/// The worker types of a program and its master entry point. Rpc_parallel's `start_app`:
///
///   int main(int argc, char** argv) {
///     rpc_parallel::app app;
///     app.add_worker<sum_worker>();
///     return app.run(argc, argv, options, master_main);
///   }
class app {
 public:
  using master_main =
      std::function<boost::asio::awaitable<int>(const boost::program_options::variables_map&)>;

  /// Registers `W` under its `name`. Throws `rpc_error` if another type has that name.
  template <worker_type W>
  app& add_worker() {
    add(detail::worker_type_of<W>());
    return *this;
  }

  /// In a spawned worker: serves the worker role and returns its exit code, never touching the
  /// command line. Otherwise: parses the command line with `options` plus the framework's own
  /// (`--rpc-*`, shown by `--help`), then runs `main` on a fresh io_context and returns its
  /// result. Exceptions from `main` are printed; the exit code is then 1. `settings` are the
  /// app's RPC settings; the command line and then RPC_PARALLEL_RPC_SETTINGS override them.
  int run(int argc, char** argv, const boost::program_options::options_description& options,
          master_main main, rpc_settings settings = {}) const;

  /// `run` for a program with no command-line options of its own.
  int run(int argc, char** argv, std::function<boost::asio::awaitable<int>()> main,
          rpc_settings settings = {}) const;

  const detail::type_registry& types() const noexcept { return types_; }

 private:
  void add(const detail::worker_type_entry& entry);
  detail::type_registry types_;
};

}  // namespace rpc_parallel
