// The map-reduce engine. Each slot of the pool runs `batches_in_flight` lanes; a lane waits for
// its slot's worker, takes a batch (one lost by another worker first, then one that wants a
// second copy, then fresh input), runs it, and delivers the outputs. A batch in flight is a
// `flight`: run by one worker, or by two once the first was slow; the first answer wins and the
// other copy is cancelled. A watchdog sends those second copies. Batches cover consecutive
// inputs, so a batch is its first index and a count. Everything runs on the caller's I/O
// thread: the state needs no lock.
#include "map_job.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/death_note.hpp"
#include "rpc_parallel/detail/interruption.hpp"
#include "rpc_parallel/detail/progress_bar.hpp"
#include "rpc_parallel/detail/trace.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
namespace map_engine {

std::string items_text(const batch& b) {
  if (b.count == 1) return "item " + std::to_string(b.first);
  return "items " + std::to_string(b.first) + " to " + std::to_string(b.first + b.count - 1);
}

// The error once `b` failed on more workers than the retries allow: it lists every failure.
rpc_parallel::error exhausted(const batch& b, int retries, error_kind kind) {
  std::string text = items_text(b) + " failed on " + std::to_string(b.attempts) +
                     " workers (retries: " + std::to_string(retries) + "):";
  for (std::size_t i = 0; i < b.failures.size(); ++i)
    text += "\n  " + std::to_string(i + 1) + ". " + b.failures[i];
  return {kind, std::move(text)};
}

void cancel_all(const std::vector<std::shared_ptr<asio::cancellation_signal>>& signals) {
  // Copied first: a cancellation may complete its call, which edits the sets they came from.
  for (const auto& s : signals) s->emit(asio::cancellation_type::terminal);
}

void report(job& j, bool last) {
  auto now = clock::now();
  if (!last && now - j.last_report < 100ms) return;
  j.last_report = now;
  j.progress.workers = j.hooks.live();
  j.progress.excluded_hosts = j.hooks.excluded_hosts();
  j.progress.in_flight = 0;
  for (const auto& [id, f] : j.flights)
    if (!f.settled && !f.copies.empty()) j.progress.in_flight += f.b.count;
  j.progress.total = j.settings.total;
  j.progress.elapsed = now - j.started;
  activity::of_this_process().map_progressed(j.published_as, j.progress);
  if (j.settings.on_progress) j.settings.on_progress(j.progress);
  if (j.settings.progress_bar) {
    std::fputs(progress_line(j.progress, last).c_str(), stdout);
    std::fflush(stdout);
  }
}

// The flight for a lane of `slot` to run a copy of: a lost batch first, then a flight that wants
// another copy (not on a slot already running it), then fresh input; nullopt when there is
// nothing left to run (or the job stops).
asio::awaitable<std::optional<std::uint64_t>> take(job& j, std::size_t slot) {
  std::size_t hold_limit =
      4 * std::max<std::size_t>(1, j.settings.slots * j.settings.batches_in_flight);
  for (;;) {
    if (j.stopping || j.interrupted_by) co_return std::nullopt;
    if (!j.lost.empty()) {
      batch b = std::move(j.lost.front());
      j.lost.pop_front();
      co_return j.start_flight(std::move(b));
    }
    for (std::size_t i = 0; i < j.spare.size(); ++i) {
      auto f = j.flights.find(j.spare[i]);
      if (f != j.flights.end() && !f->second.settled && f->second.runs_on(slot)) continue;
      std::uint64_t id = j.spare[i];
      j.spare.erase(j.spare.begin() + static_cast<std::ptrdiff_t>(i));
      if (f == j.flights.end() || f->second.settled) {  // answered meanwhile
        --i;
        continue;
      }
      f->second.wanted = false;
      co_return id;
    }
    // In order, results wait for earlier ones: do not run too far ahead of them.
    if (!j.input_done && !(j.settings.ordered && j.held.size() >= hold_limit)) {
      batch b;
      b.first = j.next_input;
      try {
        b.count = j.hooks.pull(j.batch_items, max_batch_bytes, b.payload);
      } catch (...) {
        j.fail(with_context(current_exception_error(),
                            "reading input " + std::to_string(j.next_input)));
        co_return std::nullopt;
      }
      if (b.count > 0) {
        j.next_input += b.count;
        co_return j.start_flight(std::move(b));
      }
      j.input_done = true;
      j.changed.notify();
      continue;
    }
    if (j.finished()) co_return std::nullopt;
    co_await j.changed.wait();  // a batch in flight may yet be lost or slow and need a lane
  }
}

// Gives a flight taken for a slot whose worker went meanwhile back, as it was.
void put_back(job& j, std::uint64_t id) {
  flight& f = j.flights.at(id);
  if (f.copies.empty()) {
    j.lost.push_front(std::move(f.b));
    j.flights.erase(id);
    --j.unsettled;
  } else {
    f.wanted = true;
    j.spare.push_front(id);
  }
  j.changed.notify();
}

void adapt_batch_size(job& j, std::uint32_t count, clock::duration took) {
  if (j.settings.batch_size) return;
  double per_item = std::chrono::duration<double>(took).count() / count;
  double wanted = per_item > 0 ? target_batch_seconds / per_item : max_batch_items;
  // Grow fast (a round trip hides in a batch of one), shrink at once.
  double grown = std::min<double>(wanted, static_cast<double>(j.batch_items) * 64);
  double most = max_batch_items;
  if (j.settings.total) {
    // Leave every lane a share of what is known to be left.
    double lanes = static_cast<double>(std::max<std::size_t>(1, j.hooks.live()) *
                                       std::max<std::size_t>(1, j.settings.batches_in_flight));
    double left =
        static_cast<double>(*j.settings.total - std::min(*j.settings.total, j.next_input));
    most = std::clamp(left / std::max(1.0, 2 * lanes), 1.0, most);
  }
  j.batch_items = static_cast<std::uint32_t>(std::clamp<double>(grown, 1, most));
}

void learn_item_time(job& j, std::uint32_t count, clock::duration took) {
  j.item_seconds.push_back(std::chrono::duration<double>(took).count() / count);
  if (j.item_seconds.size() > batches_for_median) j.item_seconds.pop_front();
  if (j.item_seconds.size() < batches_for_median) return;
  std::vector<double> sorted(j.item_seconds.begin(), j.item_seconds.end());
  auto middle = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
  std::nth_element(sorted.begin(), middle, sorted.end());
  j.median_item_seconds = *middle;
}

void deliver(job& j, std::uint64_t first, std::uint32_t count, std::string reply) {
  auto hand_over = [&j](std::uint64_t f, std::uint32_t n, std::string_view outputs) {
    if (!j.hooks.deliver(f, n, outputs)) {
      j.stopping = true;  // the caller has what it wanted
      j.changed.notify();
    }
  };
  if (!j.settings.ordered) {
    hand_over(first, count, std::string_view(reply).substr(j.header_size()));
    return;
  }
  j.held.emplace(first, std::make_pair(count, std::move(reply)));
  while (!j.held.empty() && j.held.begin()->first == j.next_to_deliver && !j.stopping) {
    auto node = j.held.extract(j.held.begin());
    j.next_to_deliver += node.mapped().first;
    hand_over(node.key(), node.mapped().first,
              std::string_view(node.mapped().second).substr(j.header_size()));
  }
}

// `b` in up to pieces_after_failure batches of consecutive items, each with its history.
std::vector<batch> split(const job& j, batch b) {
  std::vector<batch> pieces;
  std::vector<std::size_t> ends;
  try {
    if (b.count > 1 && j.hooks.item_ends) ends = j.hooks.item_ends(b.payload);
  } catch (...) {
    ends.clear();  // our own payload cannot be malformed; if it were, keep it whole
  }
  if (ends.size() != b.count) {
    pieces.push_back(std::move(b));
    return pieces;
  }
  std::uint32_t per = (b.count + pieces_after_failure - 1) / pieces_after_failure;
  for (std::uint32_t from = 0; from < b.count; from += per) {
    std::uint32_t to = std::min(b.count, from + per);
    std::size_t begin = from == 0 ? 0 : ends[from - 1];
    pieces.push_back({b.first + from, to - from, b.payload.substr(begin, ends[to - 1] - begin),
                      b.attempts, b.failures});
  }
  return pieces;
}

// Hands results over and counts them done; false once the job failed for it.
bool deliver_done(job& j, std::uint64_t first, std::uint32_t count, std::string reply) {
  try {
    deliver(j, first, count, std::move(reply));
  } catch (...) {
    j.fail(current_exception_error());
    return false;
  }
  j.progress.done += count;
  return true;
}

// Batch `b` failed on more workers than `retries` allows: the job fails, listing every failure;
// with per-item errors, a single item is delivered as that error instead, and a larger batch
// runs again split (so that its other items are not blamed).
void give_up_on(job& j, batch b, error_kind kind) {
  rpc_parallel::error e = exhausted(b, j.settings.retries, kind);
  if (!j.settings.per_item_errors) {
    j.fail(std::move(e));
    return;
  }
  if (b.count > 1) {
    for (batch& piece : split(j, std::move(b))) j.lost.push_back(std::move(piece));
    j.changed.notify();
    return;
  }
  std::string reply(1, static_cast<char>(batch_status::ok));
  std::uint32_t failed = 1;
  reply.append(reinterpret_cast<const char*>(&failed), sizeof failed);
  reply += j.hooks.failed_outcomes(1, e);
  ++j.progress.failed;
  if (deliver_done(j, b.first, 1, std::move(reply))) j.changed.notify();
}

// Batch `b`, whose last copy was lost with its worker, runs again: whole if that worker had not
// started it (`ran` false), else split, unless it has failed on more workers than `retries`
// allows.
void run_again(job& j, batch b, error_kind kind, bool ran) {
  if (ran && b.attempts > j.settings.retries) {
    give_up_on(j, std::move(b), kind);
    return;
  }
  j.progress.retried += b.count;
  if (ran) {
    for (batch& piece : split(j, std::move(b))) j.lost.push_back(std::move(piece));
  } else {
    j.lost.push_back(std::move(b));
  }
  j.changed.notify();
}

// Runs `payload` on `slot`'s worker, cancellable through `cancel` (which `calls` holds meanwhile,
// so that the job's end can cancel it).
asio::awaitable<std::string> cancellable_run(job& j, std::size_t slot, std::string payload,
                                             std::shared_ptr<asio::cancellation_signal> cancel) {
  struct held_signal {
    job& j;
    std::shared_ptr<asio::cancellation_signal> s;
    ~held_signal() { j.calls.erase(s); }
  } held{j, cancel};
  j.calls.insert(cancel);
  auto executor = co_await asio::this_coro::executor;
  // Named, not temporaries in the co_await: g++ 12 (docs/gcc12_coroutines.md).
  auto call = j.hooks.run(slot, std::move(payload));
  auto token = asio::bind_cancellation_slot(cancel->slot(), asio::use_awaitable);
  std::string reply = co_await asio::co_spawn(executor, std::move(call), token);
  co_return reply;
}

// A suspect slot's worker gets an empty batch: it answers once it has finished (or stopped) the
// batch it was slow with, or it is lost.
asio::awaitable<void> probe(job& j, std::size_t slot) {
  try {
    auto cancel = std::make_shared<asio::cancellation_signal>();
    co_await cancellable_run(j, slot, std::string(), cancel);
    j.suspect[slot] = false;
  } catch (...) {
    rpc_parallel::error e = current_exception_error();
    if (e.kind == error_kind::disconnected)
      j.suspect[slot] = false;  // its replacement has nothing to catch up on
    else if (e.kind != error_kind::cancelled)
      j.fail(e);
  }
}

// After a copy of flight `id` answered `reply`, or failed with `lost`.
void copy_ended(job& j, std::uint64_t id, std::size_t slot, bool ran, clock::duration took,
                std::optional<std::string> reply, std::optional<rpc_parallel::error> lost) {
  flight& f = j.flights.at(id);
  auto forget_if_done = [&j, id, &f] {
    if (f.settled && f.copies.empty()) j.flights.erase(id);
  };
  if (lost && lost->kind == error_kind::cancelled) {
    j.suspect[slot] = true;  // its worker may still be busy with it
    // Cancelled as the loser of a race, or for a copy sent in its place: one still runs or is
    // wanted. Should neither be so, the batch runs again rather than being lost.
    if (!f.settled && f.copies.empty() && !f.wanted) j.want_copy(id);
    forget_if_done();
    return;
  }
  if (f.settled) {  // the other copy won
    forget_if_done();
    return;
  }
  if (lost && lost->kind == error_kind::disconnected) {
    if (ran) {
      f.b.failures.push_back(lost->message);
      ++f.b.attempts;
    }
    if (!f.copies.empty() || f.wanted) return;  // another copy runs, or will
    batch b = std::move(f.b);
    j.flights.erase(id);
    --j.unsettled;
    run_again(j, std::move(b), lost->kind, ran);
    return;
  }
  if (lost) {
    j.fail(*lost);
    return;
  }
  if (reply->empty() || static_cast<batch_status>((*reply)[0]) != batch_status::ok) {
    // A function threw: deterministic, so not retried. Reply: status, u32 offset, error.
    std::uint32_t offset = 0;
    if (reply->size() >= 5) std::memcpy(&offset, reply->data() + 1, 4);
    rpc_parallel::error e =
        reply->size() >= 5
            ? decode<rpc_parallel::error>(std::string_view(*reply).substr(5), "item error")
            : rpc_parallel::error{error_kind::failed, "malformed batch reply"};
    j.fail(with_context(std::move(e), "item " + std::to_string(f.b.first + offset)));
    return;
  }
  if (j.settings.per_item_errors && reply->size() >= 5) {
    std::uint32_t failed = 0;
    std::memcpy(&failed, reply->data() + 1, 4);
    j.progress.failed += failed;
  }
  f.settled = true;
  --j.unsettled;
  std::vector<std::shared_ptr<asio::cancellation_signal>> losers;
  for (const copy& other : f.copies) losers.push_back(other.cancel);
  std::uint64_t first = f.b.first;
  std::uint32_t count = f.b.count;
  forget_if_done();
  cancel_all(losers);
  learn_item_time(j, count, took);
  adapt_batch_size(j, count, took);
  if (!deliver_done(j, first, count, std::move(*reply))) return;
  report(j, false);
  j.changed.notify();
}

// A copy's span: the batch's items on one worker's slot, from sending to its outcome.
void trace_copy(const batch& b, std::size_t slot, clock::time_point sent,
                const std::optional<rpc_parallel::error>& lost) {
  tracer::of_this_process().record(
      "map", "batch of " + std::to_string(b.count), sent, clock::now(),
      {{"items", items_text(b)},
       {"slot", std::to_string(slot)},
       {"outcome", lost ? std::string(to_string(lost->kind)) + ": " + lost->message : "answered"}});
}

// Runs one copy of flight `id` on `slot`'s worker, to its end.
asio::awaitable<void> run_copy(job& j, std::size_t slot, std::uint64_t id) {
  auto cancel = std::make_shared<asio::cancellation_signal>();
  std::uint64_t copy_id = j.next_copy++;
  auto sent = clock::now();
  std::string payload = j.flights.at(id).b.payload;  // the flight keeps its own, for a retry
  j.flights.at(id).copies.push_back({copy_id, slot, sent, cancel, false});
  std::uint64_t sent_as = j.next_sent++;
  j.running_on[slot].insert(sent_as);
  j.watch_timer.cancel();  // the watchdog looks at the new deadline
  std::optional<std::string> reply;
  std::optional<rpc_parallel::error> lost;
  ++j.copies_running;
  try {
    reply = co_await cancellable_run(j, slot, std::move(payload), cancel);
  } catch (...) {
    lost = current_exception_error();
  }
  --j.copies_running;
  if (lost && lost->kind == error_kind::disconnected && !j.blamed[slot])
    j.blamed[slot] = *j.running_on[slot].begin();
  bool ran = !j.blamed[slot] || *j.blamed[slot] == sent_as;
  j.running_on[slot].erase(sent_as);
  if (j.running_on[slot].empty()) j.blamed[slot].reset();  // the next worker there is new
  auto& copies = j.flights.at(id).copies;
  std::erase_if(copies, [copy_id](const copy& c) { return c.id == copy_id; });
  if (tracer::on()) trace_copy(j.flights.at(id).b, slot, sent, lost);
  if (j.stopping) co_return;
  copy_ended(j, id, slot, ran, clock::now() - sent, std::move(reply), std::move(lost));
}

asio::awaitable<void> lane(std::shared_ptr<job> shared, std::size_t slot) {
  job& j = *shared;
  while (!j.stopping) {
    bool ready = false;
    try {
      ready = co_await j.hooks.ready(slot);
    } catch (...) {
      j.fail(current_exception_error());  // the pool gave up
      break;
    }
    if (!ready || j.stopping) break;
    if (j.suspect[slot]) {
      co_await probe(j, slot);
      continue;
    }
    std::optional<std::uint64_t> id = co_await take(j, slot);
    if (!id) break;
    if (!j.hooks.up(slot)) {  // its worker went while this lane waited for work
      put_back(j, *id);
      continue;
    }
    co_await run_copy(j, slot, *id);
  }
  --j.lanes_running;
  j.changed.notify();
}

rpc_parallel::error interrupted_error(const job& j) {
  std::string text = "map-reduce interrupted by " + signal_abbreviation(j.interrupted_by) + ": " +
                     std::to_string(j.progress.done);
  if (j.settings.total) text += " of " + std::to_string(*j.settings.total);
  text += " items done (their results delivered); no further item was started";
  if (j.copies_running > 0)
    text += "; " + std::to_string(j.copies_running) +
            " batches still running after the drain grace of " +
            std::to_string(j.settings.drain_grace.count()) +
            " ms (map_config::drain_grace) were given up";
  return {error_kind::cancelled, std::move(text)};
}

// A master's SIGTERM or SIGINT: the job hands out nothing more, and ends once its batches in
// flight are done, or at the end of the grace.
void interrupt(job& j, int signal) {
  if (j.interrupted_by || j.stopping) return;
  j.interrupted_by = signal;
  j.changed.notify();
  j.grace_timer.expires_after(j.settings.drain_grace);
  j.grace_timer.async_wait([&j](const boost::system::error_code& ec) {
    if (!ec) j.fail(interrupted_error(j));
  });
}

}  // namespace map_engine

asio::awaitable<void> run_map_job(map_hooks hooks, map_job_settings settings) {
  using namespace map_engine;
  RPCP_REQUIRE(settings.slots > 0, "map-reduce needs at least one worker");
  auto executor = co_await asio::this_coro::executor;
  auto shared = std::make_shared<job>(std::move(hooks), std::move(settings), executor);
  job& j = *shared;
  struct unpublish {
    std::uint64_t job;
    ~unpublish() { activity::of_this_process().map_ended(job); }
  } unpublished{j.published_as};
  struct traced {
    job& j;
    clock::time_point started = clock::now();
    ~traced() {
      if (!tracer::on()) return;
      tracer::of_this_process().record("map", "map_reduce", started, clock::now(),
                                       {{"items_done", std::to_string(j.progress.done)},
                                        {"workers", std::to_string(j.settings.slots)},
                                        {"outcome", j.failure ? j.failure->message : "done"}});
    }
  } trace_job{j};
  std::size_t lanes = std::max<std::size_t>(1, j.settings.batches_in_flight);
  for (std::size_t slot = 0; slot < j.settings.slots; ++slot)
    for (std::size_t k = 0; k < lanes; ++k) {
      ++j.lanes_running;
      asio::co_spawn(executor, lane(shared, slot), asio::detached);
    }
  if (j.settings.item_timeout.count() > 0 || j.settings.straggler_factor > 0) {
    j.watching = true;
    asio::co_spawn(executor, watchdog(shared), asio::detached);
  }
  interruption_listener interruptions([&j](int signal) { interrupt(j, signal); });
  auto drained = [&j] { return j.interrupted_by && j.copies_running == 0; };
  while (!j.stopping && !j.finished() && j.lanes_running > 0 && !drained())
    co_await j.changed.wait();
  if (j.interrupted_by && !j.finished()) j.fail(interrupted_error(j));
  if (!j.stopping && !j.finished() && !j.failure) {
    std::string text = "the work was not done: the pool has no worker left to run it";
    auto excluded = j.hooks.excluded_hosts();
    if (!excluded.empty()) {
      text += " (excluded, as their workers kept failing:";
      for (const auto& host : excluded) text += " " + host;
      text += ")";
    }
    j.failure = rpc_parallel::error{error_kind::disconnected, std::move(text)};
  }
  report(j, true);  // before the stop, which may close the pool
  // End the calls still in flight, and wait for every lane: they use the caller's hooks.
  j.stopping = true;
  j.changed.notify();
  j.hooks.stop();
  cancel_all({j.calls.begin(), j.calls.end()});
  j.watch_timer.cancel();
  j.grace_timer.cancel();
  while (j.lanes_running > 0 || j.watching) co_await j.changed.wait();
  if (j.failure) throw rpc_error(*j.failure);
}

}  // namespace rpc_parallel::detail
