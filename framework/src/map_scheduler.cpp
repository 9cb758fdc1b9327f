// The map-reduce engine. Each worker runs `batches_in_flight` lanes; a lane takes a batch (one
// lost by another worker first, else fresh input), runs it, and delivers the outputs. Batches
// cover consecutive inputs, so a batch is its first index and a count. Everything runs on the
// caller's I/O thread: the state needs no lock.
#include "rpc_parallel/detail/map_scheduler.hpp"

#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/wakeup.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cmath>
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
using clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t max_batch_bytes = 1024 * 1024;
constexpr std::uint32_t max_batch_items = 1 << 16;
// An adaptive batch aims to keep its worker busy this long: long enough to hide a round trip,
// short enough to balance load and to show results early.
constexpr double target_batch_seconds = 0.002;

// A batch that failed on a worker (it died, or timed out) runs again in at most this many
// pieces, and each piece that fails again is split again: an item that kills every worker it
// meets ends up alone after two deaths in a batch of up to 64 * 64 items, so the error names it.
constexpr std::uint32_t pieces_after_failure = 64;

struct batch {
  std::uint64_t first = 0;
  std::uint32_t count = 0;
  std::string payload;
  int attempts = 0;
  std::vector<std::string> failures;  ///< Why each attempt failed.
};

std::string items_text(const batch& b) {
  if (b.count == 1) return "item " + std::to_string(b.first);
  return "items " + std::to_string(b.first) + " to " + std::to_string(b.first + b.count - 1);
}

struct job {
  job(map_hooks h, map_job_settings s, asio::any_io_executor executor)
      : hooks(std::move(h)),
        settings(std::move(s)),
        changed(std::move(executor)),
        workers_alive(settings.workers),
        worker_lost(settings.workers, false),
        suspect(settings.workers, false),
        running_on(settings.workers),
        blamed(settings.workers),
        batch_items(settings.batch_size ? settings.batch_size : 1) {}

  map_hooks hooks;
  map_job_settings settings;
  wakeup changed;

  std::deque<batch> lost;  // batches whose worker was lost, to run again first
  bool input_done = false;
  std::uint64_t next_input = 0;
  std::size_t batches_in_flight = 0;
  std::map<std::uint64_t, std::pair<std::uint32_t, std::string>>
      held;  // ordered: waiting for earlier
  std::uint64_t next_to_deliver = 0;
  std::size_t workers_alive;
  std::vector<bool> worker_lost;
  std::vector<bool> suspect;  // its batch timed out: no more work until it answers a probe
  // A worker runs its batches one at a time, in the order sent: when it dies, the oldest of
  // those in flight is the one it was running, and the others had not started.
  std::uint64_t next_sent = 0;
  std::vector<std::set<std::uint64_t>> running_on;   // per worker: batches in flight
  std::vector<std::optional<std::uint64_t>> blamed;  // per worker: the one it died running
  std::size_t lanes_running = 0;
  bool stopping = false;
  std::optional<rpc_parallel::error> failure;
  std::uint32_t batch_items;
  map_progress progress;
  clock::time_point started = clock::now();
  clock::time_point last_report{};

  bool finished() const {
    return input_done && lost.empty() && batches_in_flight == 0 && held.empty();
  }
  void fail(rpc_parallel::error e) {
    if (!failure && !stopping) failure = std::move(e);
    stopping = true;
    changed.notify();
  }
};

std::string human_rate(double per_second) {
  char text[32];
  if (per_second >= 1e6)
    std::snprintf(text, sizeof text, "%.2fM", per_second / 1e6);
  else if (per_second >= 1e3)
    std::snprintf(text, sizeof text, "%.1fk", per_second / 1e3);
  else
    std::snprintf(text, sizeof text, "%.1f", per_second);
  return text;
}

void draw_progress_bar(const map_progress& p, bool last) {
  double seconds = std::chrono::duration<double>(p.elapsed).count();
  double rate = seconds > 0 ? static_cast<double>(p.done) / seconds : 0;
  std::string line = "\r";
  if (p.total && *p.total > 0) {
    double fraction = std::min(1.0, static_cast<double>(p.done) / static_cast<double>(*p.total));
    int filled = static_cast<int>(fraction * 30);
    line.push_back('[');
    line.append(static_cast<std::size_t>(filled), '#');
    line.append(static_cast<std::size_t>(30 - filled), ' ');
    line.append("] ");
    char numbers[96];
    std::snprintf(numbers, sizeof numbers, "%3.0f%% %llu/%llu", fraction * 100,
                  static_cast<unsigned long long>(p.done),
                  static_cast<unsigned long long>(*p.total));
    line += numbers;
  } else {
    line += std::to_string(p.done) + " items";
  }
  line += "  " + human_rate(rate) + " items/s";
  if (p.total && rate > 0 && !last) {
    double eta = static_cast<double>(*p.total - std::min(*p.total, p.done)) / rate;
    line += "  ETA " + std::to_string(static_cast<long long>(std::ceil(eta))) + "s";
  }
  if (p.retried) line += "  retried " + std::to_string(p.retried);
  if (p.timed_out) line += "  timed out " + std::to_string(p.timed_out);
  line += "   ";
  if (last) line += "\n";
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

void report(job& j, bool last) {
  auto now = clock::now();
  if (!last && now - j.last_report < std::chrono::milliseconds(100)) return;
  j.last_report = now;
  j.progress.workers = j.workers_alive;
  j.progress.total = j.settings.total;
  j.progress.elapsed = now - j.started;
  if (j.settings.on_progress) j.settings.on_progress(j.progress);
  if (j.settings.progress_bar) draw_progress_bar(j.progress, last);
}

// The next batch for a lane: a lost one first, then fresh input; nullopt when there is nothing
// left to run (or the job stops).
asio::awaitable<std::optional<batch>> take(job& j) {
  std::size_t hold_limit =
      4 * std::max<std::size_t>(1, j.settings.workers * j.settings.batches_in_flight);
  for (;;) {
    if (j.stopping) co_return std::nullopt;
    if (!j.lost.empty()) {
      batch b = std::move(j.lost.front());
      j.lost.pop_front();
      co_return b;
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
        co_return b;
      }
      j.input_done = true;
      j.changed.notify();
      continue;
    }
    if (j.finished()) co_return std::nullopt;
    co_await j.changed.wait();  // a batch in flight may yet be lost and need a lane
  }
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
    double lanes = static_cast<double>(j.workers_alive *
                                       std::max<std::size_t>(1, j.settings.batches_in_flight));
    double left =
        static_cast<double>(*j.settings.total - std::min(*j.settings.total, j.next_input));
    most = std::clamp(left / std::max(1.0, 2 * lanes), 1.0, most);
  }
  j.batch_items = static_cast<std::uint32_t>(std::clamp<double>(grown, 1, most));
}

void deliver(job& j, std::uint64_t first, std::uint32_t count, std::string reply) {
  auto hand_over = [&j](std::uint64_t f, std::uint32_t n, std::string_view outputs) {
    if (!j.hooks.deliver(f, n, outputs)) {
      j.stopping = true;  // the caller has what it wanted
      j.changed.notify();
    }
  };
  if (!j.settings.ordered) {
    hand_over(first, count, std::string_view(reply).substr(1));
    return;
  }
  j.held.emplace(first, std::make_pair(count, std::move(reply)));
  while (!j.held.empty() && j.held.begin()->first == j.next_to_deliver && !j.stopping) {
    auto node = j.held.extract(j.held.begin());
    j.next_to_deliver += node.mapped().first;
    hand_over(node.key(), node.mapped().first, std::string_view(node.mapped().second).substr(1));
  }
}

void mark_lost(job& j, std::size_t worker, const rpc_parallel::error& why) {
  if (!j.worker_lost[worker]) {
    j.worker_lost[worker] = true;
    --j.workers_alive;
  }
  if (j.workers_alive == 0) {
    std::string text = "every worker was lost before the work was done; last: " + why.message;
    // The batch that met the most of them is the likeliest culprit: name it.
    const batch* worst = nullptr;
    for (const batch& b : j.lost)
      if (!worst || b.attempts > worst->attempts) worst = &b;
    if (worst && worst->attempts > 1)
      text += "; " + items_text(*worst) + " had failed on " + std::to_string(worst->attempts) +
              " of them";
    j.fail({error_kind::disconnected, std::move(text)});
  }
  j.changed.notify();
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

// Batch `b` failed on a worker (`why`): it runs again elsewhere, split, unless its items have
// been tried on more workers than `retries` allows; the error then lists every failure. A
// batch that had not started on a worker that died (`ran` false) just runs again.
void run_again(job& j, batch b, const rpc_parallel::error& why, bool ran = true) {
  if (!ran) {
    j.progress.retried += b.count;
    j.lost.push_back(std::move(b));
    j.changed.notify();
    return;
  }
  b.failures.push_back(why.message);
  if (++b.attempts > j.settings.retries) {
    std::string text = items_text(b) + " failed on " + std::to_string(b.attempts) +
                       " workers (retries: " + std::to_string(j.settings.retries) + "):";
    for (std::size_t i = 0; i < b.failures.size(); ++i)
      text += "\n  " + std::to_string(i + 1) + ". " + b.failures[i];
    j.fail({why.kind, std::move(text)});
    return;
  }
  (why.kind == error_kind::timed_out ? j.progress.timed_out : j.progress.retried) += b.count;
  for (batch& piece : split(j, std::move(b))) j.lost.push_back(std::move(piece));
  j.changed.notify();
}

call_options deadline_for(const job& j, std::uint32_t items) {
  if (j.settings.item_timeout.count() <= 0) return {};
  return call_options().with_timeout(j.settings.item_timeout * std::max<std::uint32_t>(items, 1));
}

// A suspect worker gets an empty batch under the item timeout until it answers (true) or is
// lost (false). It answers once it has stopped the batch it was told to stop.
asio::awaitable<bool> probe(job& j, std::size_t worker) {
  while (!j.stopping) {
    try {
      co_await j.hooks.run(worker, {}, deadline_for(j, 1));
      j.suspect[worker] = false;
      co_return true;
    } catch (...) {
      rpc_parallel::error e = current_exception_error();
      if (e.kind == error_kind::timed_out) continue;
      if (e.kind == error_kind::disconnected)
        mark_lost(j, worker, e);
      else
        j.fail(e);
      co_return false;
    }
  }
  co_return false;
}

asio::awaitable<void> lane(std::shared_ptr<job> shared, std::size_t worker) {
  job& j = *shared;
  while (!j.worker_lost[worker] && !j.stopping) {
    if (j.suspect[worker]) {
      if (!co_await probe(j, worker)) break;
      continue;
    }
    std::optional<batch> next = co_await take(j);
    if (!next) break;
    batch b = std::move(*next);
    ++j.batches_in_flight;
    j.progress.in_flight += b.count;
    auto sent = clock::now();
    std::optional<std::string> reply;
    std::optional<rpc_parallel::error> lost;
    std::uint64_t sent_as = j.next_sent++;
    j.running_on[worker].insert(sent_as);
    try {
      std::string payload = b.payload;  // kept for a retry elsewhere
      reply = co_await j.hooks.run(worker, std::move(payload), deadline_for(j, b.count));
    } catch (...) {
      lost = current_exception_error();
    }
    if (lost && lost->kind == error_kind::disconnected && !j.blamed[worker])
      j.blamed[worker] = *j.running_on[worker].begin();
    j.running_on[worker].erase(sent_as);
    --j.batches_in_flight;
    j.progress.in_flight -= b.count;
    if (j.stopping) break;
    if (lost) {
      if (lost->kind == error_kind::disconnected) {
        bool ran = j.blamed[worker] == sent_as;
        run_again(j, std::move(b), *lost, ran);  // first: a failure names the items
        mark_lost(j, worker, *lost);
        break;
      }
      if (lost->kind == error_kind::timed_out && j.settings.item_timeout.count() > 0) {
        j.suspect[worker] = true;
        run_again(j, std::move(b), *lost);
        continue;
      }
      j.fail(*lost);
      break;
    }
    if (reply->empty() || static_cast<batch_status>((*reply)[0]) != batch_status::ok) {
      // A function threw: deterministic, so not retried. Reply: status, u32 offset, error.
      std::uint32_t offset = 0;
      if (reply->size() >= 5) std::memcpy(&offset, reply->data() + 1, 4);
      rpc_parallel::error e =
          reply->size() >= 5
              ? decode<rpc_parallel::error>(std::string_view(*reply).substr(5), "item error")
              : rpc_parallel::error{error_kind::failed, "malformed batch reply"};
      j.fail(with_context(std::move(e), "item " + std::to_string(b.first + offset)));
      break;
    }
    adapt_batch_size(j, b.count, clock::now() - sent);
    try {
      deliver(j, b.first, b.count, std::move(*reply));
    } catch (...) {
      j.fail(current_exception_error());
      break;
    }
    j.progress.done += b.count;
    report(j, false);
    j.changed.notify();
  }
  --j.lanes_running;
  j.changed.notify();
}

}  // namespace

asio::awaitable<void> run_map_job(map_hooks hooks, map_job_settings settings) {
  RPCP_REQUIRE(settings.workers > 0, "map-reduce needs at least one worker");
  auto executor = co_await asio::this_coro::executor;
  auto shared = std::make_shared<job>(std::move(hooks), std::move(settings), executor);
  job& j = *shared;
  std::size_t lanes = std::max<std::size_t>(1, j.settings.batches_in_flight);
  for (std::size_t w = 0; w < j.settings.workers; ++w)
    for (std::size_t k = 0; k < lanes; ++k) {
      ++j.lanes_running;
      asio::co_spawn(executor, lane(shared, w), asio::detached);
    }
  while (!j.stopping && !j.finished() && j.lanes_running > 0) co_await j.changed.wait();
  if (!j.stopping && !j.finished() && !j.failure)
    j.failure = rpc_parallel::error{error_kind::disconnected,
                                    "every worker was lost before the work was done"};
  // End the calls still in flight, and wait for every lane: they use the caller's hooks.
  j.stopping = true;
  j.changed.notify();
  j.hooks.stop();
  while (j.lanes_running > 0) co_await j.changed.wait();
  report(j, true);
  if (j.failure) throw rpc_error(*j.failure);
}

}  // namespace rpc_parallel::detail
