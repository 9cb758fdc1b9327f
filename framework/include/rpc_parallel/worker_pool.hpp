// A supervised pool of workers of one type: it replaces the ones that die, and gives up, saying
// why, when they die too often.
#pragma once

#include "rpc_parallel/call_options.hpp"
#include "rpc_parallel/connection.hpp"
#include "rpc_parallel/detail/catch_error.hpp"
#include "rpc_parallel/detail/restart_budget.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/pool_options.hpp"
#include "rpc_parallel/spawn.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace rpc_parallel {

/// How one slot's worker is spawned: its options (the pool appends "-SLOT" to the name) and its
/// spawn argument.
template <worker_type W>
struct pool_slot {
  spawn_options options;
  spawn_arg_t<W> arg;
};

/// `size` workers of type `W`, each spawned under `shutdown_on::connection_closed` and named
/// NAME-SLOT (NAME: the spawn options' name, else `W::name`). A worker that dies, or fails to
/// start, is replaced after a backoff; more deaths than the restart intensity allows and the
/// pool gives up: it closes its workers and every call fails with an error listing the deaths
/// and their reports. A host whose workers keep failing is excluded (`exclude_host_after`).
/// Calls go to the live worker with the fewest calls in flight, or to one slot. Move-only;
/// destroying it (or `close`) ends its workers. Runs on the caller's thread.
template <worker_type W>
class worker_pool {
 public:
  /// Spawns the workers and waits until all have started. Throws `rpc_error`: the give-up error
  /// when they fail to start more often than the restart intensity allows.
  static boost::asio::awaitable<worker_pool> start(pool_options pool, spawn_options spawn,
                                                   spawn_arg_t<W> arg) {
    return start_each(std::move(pool),
                      [spawn = std::move(spawn), arg = std::move(arg)](std::size_t) {
                        return pool_slot<W>{spawn, arg};
                      });
  }
  static boost::asio::awaitable<worker_pool> start(pool_options pool, spawn_options spawn) {
    return start(std::move(pool), std::move(spawn), spawn_arg_t<W>{});
  }
  /// `start` with each slot's worker made by `make(slot)`: on other hosts, with arguments of
  /// its own. `make` is called again for each replacement.
  static boost::asio::awaitable<worker_pool> start_each(
      pool_options pool, std::function<pool_slot<W>(std::size_t slot)> make) {
    auto executor = co_await boost::asio::this_coro::executor;
    worker_pool p = launch_each(executor, std::move(pool), std::move(make));
    co_await p.wait_until_full();
    co_return p;
  }
  /// `start_each` returning at once, on `executor`: the workers start in the background, and
  /// calls wait for them.
  static worker_pool launch_each(boost::asio::any_io_executor executor, pool_options pool,
                                 std::function<pool_slot<W>(std::size_t slot)> make) {
    worker_pool p(std::make_shared<state>(std::move(pool), std::move(make), executor));
    for (std::size_t slot = 0; slot < p.state_->members.size(); ++slot) {
      // Every host is known before any death, for the last-host-standing rule.
      pool_slot<W> first = recipe_for(p.state_, slot);
      p.state_->members[slot].host = first.options.how.host();
      p.state_->budget.add_host(p.state_->members[slot].host);
      boost::asio::co_spawn(executor, supervise(p.state_, slot, std::move(first)),
                            boost::asio::detached);
    }
    return p;
  }

  worker_pool(worker_pool&&) noexcept = default;
  worker_pool& operator=(worker_pool&&) noexcept = default;
  ~worker_pool() { close(); }

  /// Calls `fn` on the live worker with the fewest calls in flight, waiting for one while all
  /// are being replaced. Throws `rpc_error` as `connection::run` does (a call whose worker dies
  /// fails with its death report: calls are not retried, they need not be idempotent), or the
  /// pool's give-up error. The query is copied: it need not outlive the call.
  template <class Q, class R>
  boost::asio::awaitable<R> run(rpc<W, Q, R> fn, std::type_identity_t<Q> query,
                                call_options options = call_options()) {
    return call(state_, std::nullopt, fn, std::move(query), options);
  }
  template <class R>
  boost::asio::awaitable<R> run(rpc<W, unit, R> fn, call_options options = call_options()) {
    return run(fn, unit{}, options);
  }
  /// `run` on the worker of `slot` (`< size()`), waiting while it is being replaced.
  template <class Q, class R>
  boost::asio::awaitable<R> run_on(std::size_t slot, rpc<W, Q, R> fn, std::type_identity_t<Q> query,
                                   call_options options = call_options()) {
    RPCP_REQUIRE(slot < size(), "worker_pool::run_on: slot ", slot, " of a pool of ", size());
    return call(state_, slot, fn, std::move(query), options);
  }
  template <class R>
  boost::asio::awaitable<R> run_on(std::size_t slot, rpc<W, unit, R> fn,
                                   call_options options = call_options()) {
    return run_on(slot, fn, unit{}, options);
  }
  /// `run` and `run_on` returning the error instead of throwing.
  template <class... Args>
  auto try_run(Args&&... args) {
    return detail::try_awaitable([&] { return run(std::forward<Args>(args)...); });
  }
  template <class... Args>
  auto try_run_on(Args&&... args) {
    return detail::try_awaitable([&] { return run_on(std::forward<Args>(args)...); });
  }

  /// Waits until every slot has a live worker, but those of excluded hosts. Throws the give-up
  /// error once the pool gave up.
  boost::asio::awaitable<void> wait_until_full() {
    auto s = state_;
    while (!s->failure && s->live() + s->excluded() < s->members.size()) co_await s->changed.wait();
    if (s->failure) throw rpc_error(*s->failure);
  }

  std::size_t size() const noexcept { return state_->members.size(); }
  /// Slots whose worker is up now.
  std::size_t live() const noexcept { return state_->live(); }
  /// Every death so far, oldest first.
  const std::vector<pool_death>& deaths() const noexcept { return state_->budget.deaths(); }
  /// Why the pool gave up, once it has.
  const std::optional<rpc_parallel::error>& failure() const noexcept { return state_->failure; }
  /// Hosts excluded because their workers kept failing, in the order they were.
  const std::vector<std::string>& excluded_hosts() const noexcept {
    return state_->budget.excluded_hosts();
  }
  /// Whether `slot`'s worker takes calls now; whether `slot` is empty for good (its host was
  /// excluded); whether the pool is closed (or gave up).
  bool slot_up(std::size_t slot) const { return state_->members.at(slot).takes_calls(); }
  bool slot_excluded(std::size_t slot) const { return state_->members.at(slot).excluded; }
  bool closed() const noexcept { return state_->closing; }
  /// Notified whenever a slot's worker comes or goes, a host is excluded or the pool closes: for
  /// layers built on the pool, which wait on it and re-check.
  detail::wakeup& changes() noexcept { return state_->changed; }

  /// Stops replacing workers and closes them all; calls in flight fail with `disconnected`.
  void close() noexcept {
    if (state_) state_->close();
  }
  /// `close`, then waits until no spawn of the pool on this host is in progress (a worker
  /// started meanwhile is closed at once), so that nothing it started here is left unreaped. A
  /// spawn on another host, which may wait for an unreachable one, ends in the background.
  boost::asio::awaitable<void> shut_down() {
    auto s = state_;
    s->close();
    while (s->local_spawns > 0) co_await s->changed.wait();
  }

 private:
  struct member {
    std::optional<connection<W>> conn;
    std::size_t in_flight = 0;
    std::size_t calls = 0;  ///< Sent to this worker (recycle_after_calls).
    bool retiring = false;  ///< Recycled: takes no new call, closes once it has none.
    std::string report;     ///< Its death report, from on_failure.
    std::string host;       ///< Where its workers run.
    bool excluded = false;  ///< Its host was excluded: it stays empty.

    bool takes_calls() const noexcept {
      return conn && !conn->is_closed() && !conn->is_leaving() && !retiring;
    }
    void retire_when_idle() noexcept {
      if (retiring && in_flight == 0 && conn) conn->close();
    }
  };
  struct state {
    state(pool_options p, std::function<pool_slot<W>(std::size_t)> m,
          boost::asio::any_io_executor e)
        : pool(std::move(p)), make(std::move(m)), budget(pool), changed(e), members(pool.size) {
      RPCP_REQUIRE(pool.size > 0, "a worker_pool needs at least one worker");
      for (std::size_t i = 0; i < pool.size; ++i) timers.emplace_back(e);
    }
    pool_options pool;
    std::function<pool_slot<W>(std::size_t)> make;
    detail::restart_budget budget;
    detail::wakeup changed;
    std::vector<member> members;
    std::vector<boost::asio::steady_timer> timers;  ///< Per slot: its backoff, or its lifetime.
    std::optional<rpc_parallel::error> failure;
    bool closing = false;
    std::size_t local_spawns = 0;  ///< Spawns in progress on this host.

    std::size_t live() const noexcept {
      std::size_t n = 0;
      for (const member& m : members) n += m.takes_calls();
      return n;
    }
    std::size_t excluded() const noexcept {
      std::size_t n = 0;
      for (const member& m : members) n += m.excluded;
      return n;
    }
    void close() noexcept {
      closing = true;
      for (member& m : members)
        if (m.conn) m.conn->close();
      for (auto& t : timers) t.cancel();
      changed.notify();
    }
    void give_up() {
      failure = budget.give_up_error(W::name);
      close();
    }
  };

  explicit worker_pool(std::shared_ptr<state> s) : state_(std::move(s)) {}

  // Slot `slot`'s worker as `make` says, named NAME-SLOT, with an on_failure that keeps its
  // report.
  static pool_slot<W> recipe_for(const std::shared_ptr<state>& s, std::size_t slot) {
    pool_slot<W> recipe = s->make(slot);
    spawn_options& o = recipe.options;
    o.name = (o.name.empty() ? std::string(W::name) : o.name) + "-" + std::to_string(slot);
    if (s->pool.recycle_above_rss > 0 && o.leave_above_rss == 0)
      o.leave_above_rss = s->pool.recycle_above_rss;
    o.on_failure = [weak = std::weak_ptr<state>(s), slot,
                    theirs = std::move(o.on_failure)](const rpc_parallel::error& e) {
      if (auto alive = weak.lock()) alive->members[slot].report = e.message;
      if (theirs)
        theirs(e);
      else
        detail::print_failure(e);  // as any spawn does by default
    };
    return recipe;
  }

  // Waits until slot `slot`'s worker has closed; past its lifetime (recycle_after), it is
  // retired first.
  static boost::asio::awaitable<void> serve_until_closed(std::shared_ptr<state> s,
                                                         std::size_t slot) {
    auto lifetime = detail::recycle_lifetime(s->pool);
    if (lifetime.count() > 0) {
      s->timers[slot].expires_after(lifetime);
      s->timers[slot].async_wait(
          [weak = std::weak_ptr<state>(s), slot](boost::system::error_code ec) {
            auto alive = weak.lock();
            if (ec || !alive) return;
            member& m = alive->members[slot];
            m.retiring = true;
            m.retire_when_idle();
          });
    }
    co_await s->members[slot].conn->closed();
    s->timers[slot].cancel();
  }

  // Keeps slot `slot` filled until the pool closes or gives up, or its host is excluded;
  // `first` is its first worker's recipe.
  static boost::asio::awaitable<void> supervise(std::shared_ptr<state> s, std::size_t slot,
                                                pool_slot<W> first) {
    std::optional<pool_slot<W>> next(std::move(first));
    while (!s->closing) {
      pool_slot<W> recipe = next ? std::move(*next) : recipe_for(s, slot);
      next.reset();
      member& m = s->members[slot];
      m.host = recipe.options.how.host();
      s->budget.add_host(m.host);
      if (s->budget.excluded(m.host)) {
        m.excluded = true;
        break;
      }
      bool here = recipe.options.how.launcher() == nullptr;
      s->local_spawns += here;
      auto spawned = co_await try_spawn<W>(shutdown_on::connection_closed,
                                           std::move(recipe.options), recipe.arg);
      s->local_spawns -= here;
      if (s->closing) break;
      std::string report;
      if (spawned) {
        m.conn.emplace(std::move(*spawned));
        m.calls = 0;
        m.retiring = false;
        s->changed.notify();
        co_await serve_until_closed(s, slot);
        if (s->closing) break;
        // Retired, or it left on a SIGTERM after answering its calls: no death.
        bool recycled = (m.retiring || m.conn->is_leaving()) && m.report.empty();
        report = !m.report.empty() ? std::move(m.report)
                                   : "worker \"" + m.conn->peer().name() +
                                         "\": its connection closed" + m.conn->close_reason();
        m.conn.reset();
        m.report.clear();
        m.retiring = false;
        if (recycled) continue;  // replaced at once
      } else {
        report = spawned.error().message;
      }
      auto verdict =
          s->budget.record_death(slot, m.host, std::move(report), std::chrono::steady_clock::now());
      if (verdict.what == detail::restart_budget::verdict::give_up) {
        s->give_up();
        break;
      }
      if (verdict.what == detail::restart_budget::verdict::host_excluded) {
        m.excluded = true;
        break;
      }
      s->changed.notify();
      s->timers[slot].expires_after(verdict.backoff);
      boost::system::error_code ec;
      co_await s->timers[slot].async_wait(
          boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    s->changed.notify();
  }

  // The slot to call: `wanted`, else the live one with the fewest calls in flight; waits while
  // there is none. Throws the give-up error, or `disconnected` once the pool is closed.
  static boost::asio::awaitable<std::size_t> pick(std::shared_ptr<state> s,
                                                  std::optional<std::size_t> wanted) {
    for (;;) {
      if (s->failure) throw rpc_error(*s->failure);
      if (s->closing)
        throw rpc_error({error_kind::disconnected,
                         "the pool of " + std::string(W::name) + " workers is closed"});
      std::optional<std::size_t> best;
      for (std::size_t i = 0; i < s->members.size(); ++i) {
        if (wanted && i != *wanted) continue;
        const member& m = s->members[i];
        if (wanted && m.excluded)
          throw rpc_error({error_kind::disconnected,
                           "slot " + std::to_string(i) + " of the pool of " + std::string(W::name) +
                               " workers is empty for good: its host " + m.host +
                               " was excluded, as its workers kept failing"});
        if (!m.takes_calls()) continue;
        if (!best || m.in_flight < s->members[*best].in_flight) best = i;
      }
      if (best) {
        member& chosen = s->members[*best];
        std::size_t most = s->pool.recycle_after_calls;
        if (most > 0 && ++chosen.calls >= most) chosen.retiring = true;  // this is its last
        co_return *best;
      }
      co_await s->changed.wait();
    }
  }

  template <class Q, class R>
  static boost::asio::awaitable<R> call(std::shared_ptr<state> s, std::optional<std::size_t> wanted,
                                        rpc<W, Q, R> fn, Q query, call_options options) {
    std::size_t slot = co_await pick(s, wanted);
    member& m = s->members[slot];
    // Counted while in flight; the member outlives the call (the state is shared). A retiring
    // worker closes when its last call ends.
    struct counted {
      member& m;
      explicit counted(member& c) : m(c) { ++m.in_flight; }
      ~counted() {
        --m.in_flight;
        m.retire_when_idle();
      }
    } in_flight(m);
    R response = co_await m.conn->run(fn, query, options);
    s->budget.record_answer(m.host);
    co_return response;
  }

  std::shared_ptr<state> state_;
};

}  // namespace rpc_parallel
