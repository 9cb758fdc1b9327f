// Map-reduce over a pool of workers, local and remote: hand it a range and a function, get the
// results. Rpc_parallel's `Map_reduce`.
//
// A map function is a struct:
//   static constexpr std::string_view name;     // unique among the app's worker types
//   using input = ...; using output = ...;      // serialisable values
//   static output map(const input&);            // or map(state&, const input&) with:
//   optional: using param = ...; struct state; static state init(param, std::uint64_t worker);
// A reduce function has `accum` instead of `output`, `map` returning an `accum`, and
//   static accum combine(accum, accum);         // associative
// Register each with `app.add_worker<rpc_parallel::map_worker<F>>()`.
#pragma once

#include "rpc_parallel/connection.hpp"
#include "rpc_parallel/detail/catch_error.hpp"
#include "rpc_parallel/detail/map_scheduler.hpp"
#include "rpc_parallel/how_to_run.hpp"
#include "rpc_parallel/map_progress.hpp"
#include "rpc_parallel/map_worker.hpp"
#include "rpc_parallel/pool_options.hpp"
#include "rpc_parallel/spawn.hpp"
#include "rpc_parallel/spawn_options.hpp"
#include "rpc_parallel/worker_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <vector>

namespace rpc_parallel {

/// Where a map-reduce call runs, and how. Rpc_parallel's `Map_reduce.Config`.
class map_config {
 public:
  map_config();  ///< `local` = this host's cores.

  struct remote_workers {
    how_to_run how;  ///< `how_to_run::remote(executable)`.
    std::size_t count = 1;
  };

  std::size_t local;                   ///< Workers on this host.
  std::vector<remote_workers> remote;  ///< Workers on other hosts.
  std::uint32_t batch_size = 0;        ///< Items per message; 0: adapted to keep workers busy.
  std::size_t batches_in_flight = 2;   ///< Per worker, so round trips never idle it.
  int retries = 2;  ///< How often an item is run again after its worker was lost or timed out.
  /// How long one item may take (0: no limit). A batch of n items passing n times this counts
  /// as failed on its worker, and runs on another worker too: the first answer wins, and the
  /// other worker is told to stop. The slow worker gets no more work until it answers again.
  /// Unless `worker_options` say otherwise, a worker that has not stopped 1 s after it was told
  /// to is killed (and replaced).
  std::chrono::milliseconds item_timeout{0};
  /// Speculation for stragglers (0: off): a batch taking this many times the median time of its
  /// items (known once 16 batches are done; never less than 50 ms) runs on another worker too,
  /// once; the first answer wins. Unlike `item_timeout`, it counts as no failure.
  double straggler_factor = 0;
  /// How lost workers are replaced: restart intensity, backoff, recycling, host exclusion (its
  /// `size` is ignored: the pool has `local` plus the remote workers).
  pool_options supervision;
  /// After a SIGTERM or SIGINT to a master run by `app::run`, the call starts no new batch and
  /// waits this long at most for those in flight, delivers their results, and fails with
  /// `cancelled` saying how many items were done; the app then exits with 128 + the signal. A
  /// second signal exits at once.
  std::chrono::milliseconds drain_grace{std::chrono::seconds(10)};
  /// Called as results come in (at most every 100 ms, and once at the end).
  std::function<void(const map_progress&)> on_progress;
  /// Draws a progress bar with rate and ETA on stdout, only when stdout is a terminal.
  bool progress_bar = false;
  /// What every worker the call spawns gets: cd, env, umask, redirections, connection timeout,
  /// on_failure. Its `name` and `how` are set per worker (`F::name`-INDEX, from `local` and
  /// `remote`). As with any spawn, workers run in "/" unless `cd` says otherwise.
  spawn_options worker_options;

  map_config with_local(std::size_t v) && {
    local = v;
    return std::move(*this);
  }
  map_config with_remote(how_to_run how, std::size_t count) && {
    remote.push_back({std::move(how), count});
    return std::move(*this);
  }
  /// `with_remote` for a named config, e.g. one host at a time in a loop.
  map_config& add_remote(how_to_run how, std::size_t count) & {
    remote.push_back({std::move(how), count});
    return *this;
  }
  map_config with_batch_size(std::uint32_t v) && {
    batch_size = v;
    return std::move(*this);
  }
  map_config with_batches_in_flight(std::size_t v) && {
    batches_in_flight = v;
    return std::move(*this);
  }
  map_config with_retries(int v) && {
    retries = v;
    return std::move(*this);
  }
  map_config with_item_timeout(std::chrono::milliseconds v) && {
    item_timeout = v;
    return std::move(*this);
  }
  map_config with_straggler_factor(double v) && {
    straggler_factor = v;
    return std::move(*this);
  }
  map_config with_supervision(pool_options v) && {
    supervision = std::move(v);
    return std::move(*this);
  }
  map_config with_drain_grace(std::chrono::milliseconds v) && {
    drain_grace = v;
    return std::move(*this);
  }
  map_config with_on_progress(std::function<void(const map_progress&)> v) && {
    on_progress = std::move(v);
    return std::move(*this);
  }
  map_config with_progress_bar(bool v) && {
    progress_bar = v;
    return std::move(*this);
  }
  map_config with_worker_options(spawn_options v) && {
    worker_options = std::move(v);
    return std::move(*this);
  }
};

namespace detail {
template <class F>
std::function<pool_slot<map_worker<F>>(std::size_t)> map_slots(const map_config& config,
                                                               map_param_t<F> param);
}  // namespace detail

/// Workers of `F` kept for several calls: pass the pool instead of a config to any map-reduce
/// call, which then spawns nothing. It is a supervised `worker_pool` (`config.supervision`): a
/// worker lost during a call or between calls is replaced, and a host whose workers keep
/// failing is excluded. Its workers exit when the pool is destroyed (they are spawned under
/// shutdown_on::connection_closed). Move-only; belongs to the executor that started it.
template <class F>
class map_pool {
 public:
  /// Spawns the workers `config` describes, each initialised with `param`, and waits until each
  /// is up (or its host excluded). Throws `rpc_error`: the pool's give-up error when they fail
  /// to start more often than its restart intensity allows.
  static boost::asio::awaitable<map_pool> start(map_config config, map_param_t<F> param) {
    auto executor = co_await boost::asio::this_coro::executor;
    map_pool pool = launch(executor, std::move(config), std::move(param));
    co_await pool.workers().wait_until_full();
    co_return pool;
  }
  /// `start` returning at once: the workers start in the background, and a call begins on each
  /// as soon as it is up.
  static map_pool launch(boost::asio::any_io_executor executor, map_config config,
                         map_param_t<F> param) {
    auto make = detail::map_slots<F>(config, std::move(param));
    pool_options supervision = config.supervision;
    supervision.size = config.local;
    for (const auto& r : config.remote) supervision.size += r.count;
    RPCP_REQUIRE(supervision.size > 0,
                 "map-reduce needs at least one worker: set map_config::local or remote");
    auto workers = worker_pool<map_worker<F>>::launch_each(std::move(executor),
                                                           std::move(supervision), std::move(make));
    return map_pool(std::move(config), std::move(workers));
  }

  /// Workers up now.
  std::size_t size() const { return workers_.live(); }
  const map_config& config() const noexcept { return config_; }
  worker_pool<map_worker<F>>& workers() noexcept { return workers_; }

 private:
  map_pool(map_config config, worker_pool<map_worker<F>> workers)
      : config_(std::move(config)), workers_(std::move(workers)) {}
  map_config config_;
  worker_pool<map_worker<F>> workers_;
};

/// A sink that takes `(index, or_error<output>)`: each item's output, or its error when its
/// `map` threw or it killed (or timed out on) more workers than the retries allow. With it the
/// call goes on past such items: `map_unordered<F>(config, inputs, param,
/// rp::with_item_errors(sink))`. Map functions only, not reduce functions.
template <class Sink>
struct item_errors_sink {
  Sink sink;
};
template <class Sink>
item_errors_sink<Sink> with_item_errors(Sink sink) {
  return {std::move(sink)};
}

namespace detail {

template <class T>
inline constexpr bool is_item_errors_sink_v = false;
template <class Sink>
inline constexpr bool is_item_errors_sink_v<item_errors_sink<Sink>> = true;

/// Takes the outputs of items [first, first + count); false to stop the call.
using batch_sink =
    std::function<bool(std::uint64_t first, std::uint32_t count, std::string_view outputs)>;

/// How a call hands its results over: in input order or not; outputs, or each item's outcome
/// (`per_item`: `outcome_reader`); to what.
struct map_delivery {
  bool ordered = false;
  bool per_item = false;
  batch_sink deliver;
};

/// Runs `F` over `inputs` on `pool`, handing each batch's outputs over as `how` says. A pool
/// made for this call alone (`owned`) is closed at once when the call ends early.
template <class F, class Range>
boost::asio::awaitable<void> run_map(map_pool<F>& pool, Range inputs, map_delivery how, bool owned);

/// `run_map` on a pool of its own, spawned from `config` for this call.
template <class F, class Range>
boost::asio::awaitable<void> run_map(map_config config, Range inputs, map_param_t<F> param,
                                     map_delivery how) {
  auto executor = co_await boost::asio::this_coro::executor;
  auto pool = map_pool<F>::launch(executor, std::move(config), std::move(param));
  auto running = run_map<F>(pool, std::move(inputs), std::move(how), true);
  auto done = co_await catch_error(std::move(running));
  co_await pool.workers().shut_down();  // a replacement may be starting: reap it
  if (!done) throw rpc_error(done.error());
}

/// Hands each output of a batch to `sink(index, output)`; false once `sink` returns false.
/// `sink` must outlive the call it is used in.
template <class Value, class Sink, class Reader>
batch_sink deliver_with(Sink& sink) {
  return [&sink](std::uint64_t first, std::uint32_t count, std::string_view outputs) {
    Reader out(outputs);
    for (std::uint32_t i = 0; i < count; ++i) {
      if constexpr (std::is_same_v<std::invoke_result_t<Sink&, std::uint64_t, Value>, bool>) {
        if (!sink(first + i, out.next())) return false;
      } else {
        sink(first + i, out.next());
      }
    }
    return true;
  };
}
template <class Output, class Sink>
batch_sink deliver_to(Sink& sink) {
  return deliver_with<Output, Sink, unpacker<Output>>(sink);
}
/// The same for a sink of `or_error<Output>`, from a per-item batch reply.
template <class Output, class Sink>
batch_sink deliver_each(Sink& sink) {
  return deliver_with<or_error<Output>, Sink, outcome_reader<Output>>(sink);
}

/// Folds each batch's accumulator into `total` with `F::combine`.
template <class F>
batch_sink combine_into(std::optional<typename F::accum>& total) {
  return [&total](std::uint64_t, std::uint32_t, std::string_view bytes) {
    auto part = decode<typename F::accum>(bytes, "accumulator");
    total = total ? F::combine(std::move(*total), std::move(part)) : std::move(part);
    return true;
  };
}

/// Where a call runs: on workers spawned from `config` for it alone...
template <class F>
struct fresh_pool {
  map_config config;
  map_param_t<F> param;
};
template <class F, class Range>
boost::asio::awaitable<void> run_on(fresh_pool<F> where, Range inputs, map_delivery how) {
  return run_map<F>(std::move(where.config), std::move(inputs), std::move(where.param),
                    std::move(how));
}
/// ...or on a `map_pool` that outlives it.
template <class F, class Range>
boost::asio::awaitable<void> run_on(map_pool<F>* pool, Range inputs, map_delivery how) {
  return run_map<F>(*pool, std::move(inputs), std::move(how), false);
}

/// The sink of `map` without one: every output, in input order.
template <class Output>
struct collect_all {
  std::vector<Output>* outputs;
  void operator()(std::uint64_t, Output value) const { outputs->push_back(std::move(value)); }
};
/// The sink of `find_map`: the first output holding a value, which stops the call.
template <class Output>
struct keep_first {
  Output* found;
  bool operator()(std::uint64_t, Output value) const {
    if (value) *found = std::move(value);
    return !found->has_value();
  }
};

/// `collect_all` of arithmetic outputs, delivered in order: each batch's outputs are one array,
/// appended with one resize and one copy.
template <class Output>
batch_sink append_array_to(std::vector<Output>& outputs) {
  return [&outputs](std::uint64_t first, std::uint32_t count, std::string_view bytes) {
    if (first != outputs.size() || bytes.size() != std::size_t(count) * sizeof(Output))
      throw_malformed("batch outputs", "not the array of the batch's outputs");
    outputs.resize(outputs.size() + count);
    std::memcpy(outputs.data() + first, bytes.data(), bytes.size());
    return true;
  };
}

template <class F, class Where, class Range, class Sink>
boost::asio::awaitable<void> map_into(Where where, Range inputs, bool ordered, Sink sink) {
  map_delivery how{ordered, is_item_errors_sink_v<Sink>, {}};
  using output = typename F::output;
  if constexpr (is_item_errors_sink_v<Sink>) {
    static_assert(!reduce_function<F>, "with_item_errors is for map functions, not reduce ones");
    how.deliver = deliver_each<output>(sink.sink);
  } else if constexpr (std::is_same_v<Sink, collect_all<output>> && is_raw_v<output>) {
    how.deliver = append_array_to(*sink.outputs);
  } else {
    how.deliver = deliver_to<output>(sink);
  }
  co_await run_on<F>(std::move(where), std::move(inputs), std::move(how));
}

template <class F, class Where, class Range>
boost::asio::awaitable<std::vector<typename F::output>> map_all(Where where, Range inputs) {
  std::vector<typename F::output> outputs;
  if constexpr (std::ranges::sized_range<Range>) outputs.reserve(std::ranges::size(inputs));
  co_await map_into<F>(std::move(where), std::move(inputs), true,
                       collect_all<typename F::output>{&outputs});
  co_return outputs;
}

template <class F, class Where, class Range>
boost::asio::awaitable<std::vector<or_error<typename F::output>>> map_all_with_errors(
    Where where, Range inputs) {
  std::vector<or_error<typename F::output>> outcomes;
  if constexpr (std::ranges::sized_range<Range>) outcomes.reserve(std::ranges::size(inputs));
  auto sink = with_item_errors(collect_all<or_error<typename F::output>>{&outcomes});
  co_await map_into<F>(std::move(where), std::move(inputs), true, std::move(sink));
  co_return outcomes;
}

template <class F, class Where, class Range>
boost::asio::awaitable<typename F::output> find_first(Where where, Range inputs) {
  typename F::output found;
  co_await map_into<F>(std::move(where), std::move(inputs), false,
                       keep_first<typename F::output>{&found});
  co_return found;
}

template <class F, class Where, class Range>
boost::asio::awaitable<std::optional<typename F::accum>> reduce(Where where, Range inputs,
                                                                bool ordered) {
  std::optional<typename F::accum> total;
  map_delivery how{ordered, false, combine_into<F>(total)};
  co_await run_on<F>(std::move(where), std::move(inputs), std::move(how));
  co_return total;
}

}  // namespace detail

/// Calls `sink(index, output)` for each input, in input order, as results come in; `sink` may
/// return false to stop early. Inputs are pulled lazily, so the range may be endless.
/// Throws `rpc_error`: `failed` naming the item whose `map` threw, `disconnected` when every
/// worker is lost. Takes `inputs` by value: pass a view (`std::views::all(v)`) to avoid a copy.
template <class F, std::ranges::input_range Range, class Sink>
boost::asio::awaitable<void> map(map_config config, Range inputs, map_param_t<F> param, Sink sink) {
  return detail::map_into<F>(detail::fresh_pool<F>{std::move(config), std::move(param)},
                             std::move(inputs), true, std::move(sink));
}

/// `map` collecting the outputs in input order. Rpc_parallel's `Map_reduce.map`.
template <class F, std::ranges::input_range Range>
boost::asio::awaitable<std::vector<typename F::output>> map(map_config config, Range inputs,
                                                            map_param_t<F> param) {
  return detail::map_all<F>(detail::fresh_pool<F>{std::move(config), std::move(param)},
                            std::move(inputs));
}

/// `map` going on past items that fail: each item's output or its error, in input order (see
/// `with_item_errors`).
template <class F, std::ranges::input_range Range>
boost::asio::awaitable<std::vector<or_error<typename F::output>>> map_with_errors(
    map_config config, Range inputs, map_param_t<F> param) {
  return detail::map_all_with_errors<F>(detail::fresh_pool<F>{std::move(config), std::move(param)},
                                        std::move(inputs));
}

/// Like `map`, but `sink(index, output)` sees results as they finish, in any order.
/// Rpc_parallel's `Map_reduce.map_unordered`.
template <class F, std::ranges::input_range Range, class Sink>
boost::asio::awaitable<void> map_unordered(map_config config, Range inputs, map_param_t<F> param,
                                           Sink sink) {
  return detail::map_into<F>(detail::fresh_pool<F>{std::move(config), std::move(param)},
                             std::move(inputs), false, std::move(sink));
}

/// The first output that holds a value (`F::output` is a `std::optional`), by completion order;
/// the rest of the work stops. nullopt when none does. Rpc_parallel's `Map_reduce.find_map`.
template <class F, std::ranges::input_range Range>
boost::asio::awaitable<typename F::output> find_map(map_config config, Range inputs,
                                                    map_param_t<F> param) {
  return detail::find_first<F>(detail::fresh_pool<F>{std::move(config), std::move(param)},
                               std::move(inputs));
}

/// Maps every input and combines the results in any order (`F::combine` must be commutative
/// and associative); nullopt for an empty input. Rpc_parallel's `map_reduce_commutative`.
template <reduce_function F, std::ranges::input_range Range>
boost::asio::awaitable<std::optional<typename F::accum>> map_reduce_commutative(
    map_config config, Range inputs, map_param_t<F> param) {
  return detail::reduce<F>(detail::fresh_pool<F>{std::move(config), std::move(param)},
                           std::move(inputs), false);
}

/// Maps every input and combines the results in input order (`F::combine` must be
/// associative). Rpc_parallel's `Map_reduce.map_reduce`.
template <reduce_function F, std::ranges::input_range Range>
boost::asio::awaitable<std::optional<typename F::accum>> map_reduce(map_config config, Range inputs,
                                                                    map_param_t<F> param) {
  return detail::reduce<F>(detail::fresh_pool<F>{std::move(config), std::move(param)},
                           std::move(inputs), true);
}

/// The same calls on a `map_pool` (which must outlive the call), with no spawning and no
/// parameter: the pool's workers were initialised with it.
template <class F, std::ranges::input_range Range, class Sink>
boost::asio::awaitable<void> map(map_pool<F>& pool, Range inputs, Sink sink) {
  return detail::map_into<F>(&pool, std::move(inputs), true, std::move(sink));
}
template <class F, std::ranges::input_range Range>
boost::asio::awaitable<std::vector<typename F::output>> map(map_pool<F>& pool, Range inputs) {
  return detail::map_all<F>(&pool, std::move(inputs));
}
template <class F, std::ranges::input_range Range>
boost::asio::awaitable<std::vector<or_error<typename F::output>>> map_with_errors(map_pool<F>& pool,
                                                                                  Range inputs) {
  return detail::map_all_with_errors<F>(&pool, std::move(inputs));
}
template <class F, std::ranges::input_range Range, class Sink>
boost::asio::awaitable<void> map_unordered(map_pool<F>& pool, Range inputs, Sink sink) {
  return detail::map_into<F>(&pool, std::move(inputs), false, std::move(sink));
}
template <class F, std::ranges::input_range Range>
boost::asio::awaitable<typename F::output> find_map(map_pool<F>& pool, Range inputs) {
  return detail::find_first<F>(&pool, std::move(inputs));
}
template <reduce_function F, std::ranges::input_range Range>
boost::asio::awaitable<std::optional<typename F::accum>> map_reduce_commutative(map_pool<F>& pool,
                                                                                Range inputs) {
  return detail::reduce<F>(&pool, std::move(inputs), false);
}
template <reduce_function F, std::ranges::input_range Range>
boost::asio::awaitable<std::optional<typename F::accum>> map_reduce(map_pool<F>& pool,
                                                                    Range inputs) {
  return detail::reduce<F>(&pool, std::move(inputs), true);
}

/// Every call above returning the error instead of throwing, with the same arguments:
/// `co_await try_map<F>(config, inputs, param)` is an `or_error<std::vector<F::output>>`.
template <class F, class... Args>
auto try_map(Args&&... args) {
  return detail::try_awaitable([&] { return map<F>(std::forward<Args>(args)...); });
}
template <class F, class... Args>
auto try_map_unordered(Args&&... args) {
  return detail::try_awaitable([&] { return map_unordered<F>(std::forward<Args>(args)...); });
}
template <class F, class... Args>
auto try_find_map(Args&&... args) {
  return detail::try_awaitable([&] { return find_map<F>(std::forward<Args>(args)...); });
}
template <class F, class... Args>
auto try_map_reduce_commutative(Args&&... args) {
  return detail::try_awaitable(
      [&] { return map_reduce_commutative<F>(std::forward<Args>(args)...); });
}
template <class F, class... Args>
auto try_map_reduce(Args&&... args) {
  return detail::try_awaitable([&] { return map_reduce<F>(std::forward<Args>(args)...); });
}

namespace detail {

bool stdout_is_terminal();

/// The recipe of each slot of a map pool: the first `local` on this host, then the remote ones
/// in order; each named F::name (the pool appends -SLOT) and initialised with (param, slot).
template <class F>
std::function<pool_slot<map_worker<F>>(std::size_t)> map_slots(const map_config& config,
                                                               map_param_t<F> param) {
  std::vector<how_to_run> places(config.local, how_to_run::local());
  for (const auto& r : config.remote) places.insert(places.end(), r.count, r.how);
  spawn_options options = config.worker_options;
  options.name = std::string(F::name);
  // A worker that ignores a batch it was told to stop (stopped, stuck in a system call) is
  // killed, and replaced.
  bool stops_batches = config.item_timeout.count() > 0 || config.straggler_factor > 0;
  if (stops_batches && options.kill_unheeded_after.count() == 0)
    options.kill_unheeded_after = std::chrono::seconds(1);
  return [places = std::move(places), options = std::move(options),
          param = std::move(param)](std::size_t slot) {
    spawn_options mine = options;
    mine.how = places.at(slot);
    return pool_slot<map_worker<F>>{std::move(mine), std::make_pair(param, std::uint64_t(slot))};
  };
}

template <class F, class Range>
boost::asio::awaitable<void> run_map(map_pool<F>& pool, Range inputs, map_delivery how,
                                     bool owned) {
  worker_pool<map_worker<F>>& workers = pool.workers();
  const map_config& config = pool.config();
  auto it = std::ranges::begin(inputs);
  auto end = std::ranges::end(inputs);
  map_hooks hooks;
  hooks.pull = [&it, &end](std::uint32_t max_items, std::size_t max_bytes, std::string& payload) {
    return pack_from<typename F::input>(it, end, max_items, max_bytes, payload);
  };
  auto batch_fn = how.per_item ? map_worker<F>::run_batch_each : map_worker<F>::run_batch;
  hooks.run = [&workers, batch_fn](std::size_t slot,
                                   std::string payload) -> boost::asio::awaitable<std::string> {
    std::string reply = co_await workers.run_on(slot, batch_fn, std::move(payload));
    co_return reply;
  };
  hooks.failed_outcomes = [](std::uint32_t count, const error& e) {
    std::string outcomes;
    for (std::uint32_t i = 0; i < count; ++i) pack_failure(e, outcomes);
    return outcomes;
  };
  bool ended = false;
  hooks.ready = [&workers, &ended](std::size_t slot) -> boost::asio::awaitable<bool> {
    for (;;) {
      if (workers.failure()) throw rpc_error(*workers.failure());
      if (ended || workers.closed()) co_return false;
      if (workers.slot_up(slot)) co_return true;
      if (workers.slot_excluded(slot)) co_return false;
      co_await workers.changes().wait();
    }
  };
  hooks.up = [&workers](std::size_t slot) { return workers.slot_up(slot); };
  hooks.live = [&workers] { return workers.live(); };
  hooks.excluded_hosts = [&workers] { return workers.excluded_hosts(); };
  hooks.deliver = std::move(how.deliver);
  hooks.item_ends = [](std::string_view payload) {
    return packed_ends<typename F::input>(payload);
  };
  hooks.stop = [&workers, &ended, owned] {
    ended = true;
    if (owned) workers.close();
    workers.changes().notify();
  };
  map_job_settings settings;
  settings.slots = workers.size();
  settings.batches_in_flight = config.batches_in_flight;
  settings.batch_size = config.batch_size;
  settings.retries = config.retries;
  settings.item_timeout = config.item_timeout;
  settings.straggler_factor = config.straggler_factor;
  settings.drain_grace = config.drain_grace;
  settings.ordered = how.ordered;
  settings.per_item_errors = how.per_item;
  if constexpr (std::ranges::sized_range<Range>) settings.total = std::ranges::size(inputs);
  settings.on_progress = config.on_progress;
  settings.progress_bar = config.progress_bar && stdout_is_terminal();
  co_await run_map_job(std::move(hooks), std::move(settings));
}

}  // namespace detail
}  // namespace rpc_parallel
