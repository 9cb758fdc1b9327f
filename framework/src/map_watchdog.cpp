// The watchdog of a map-reduce job: item timeouts and stragglers (map_job.hpp).
#include "map_job.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rpc_parallel::detail::map_engine {
namespace {

// What the watchdog does at `now` to the copies past their deadlines: those past the item timeout
// count as failures and, once every copy of a batch is, another is sent (the oldest of two is
// cancelled first); a straggler gets one second copy. Returns the next deadline.
clock::time_point look_at_deadlines(job& j, clock::time_point now) {
  clock::time_point next = clock::time_point::max();
  std::vector<std::shared_ptr<asio::cancellation_signal>> give_up;
  for (auto& [id, f] : j.flights) {
    if (f.settled || f.copies.empty()) continue;
    if (j.settings.item_timeout.count() > 0) {
      auto allowed = j.settings.item_timeout * f.b.count;
      for (copy& c : f.copies) {
        if (c.timed_out) continue;
        if (c.sent + allowed > now) {
          next = std::min(next, c.sent + allowed);
          continue;
        }
        c.timed_out = true;
        j.suspect[c.slot] = true;
        j.progress.timed_out += f.b.count;
        f.b.failures.push_back("timed out on slot " + std::to_string(c.slot) + ": no answer in " +
                               std::to_string(allowed.count()) + " ms (map_config::item_timeout " +
                               std::to_string(j.settings.item_timeout.count()) + " ms per item)");
        ++f.b.attempts;
      }
      bool all_late = std::ranges::all_of(f.copies, [](const copy& c) { return c.timed_out; });
      if (all_late && !f.wanted) {
        if (f.b.attempts > j.settings.retries) {
          // Given up: its copies are cancelled, and their answers dropped.
          for (const copy& c : f.copies) give_up.push_back(c.cancel);
          f.settled = true;
          --j.unsettled;
          give_up_on(j, f.b, error_kind::timed_out);
          if (j.stopping) break;
          continue;
        }
        if (f.copies.size() >= copies_at_most) give_up.push_back(f.copies.front().cancel);
        j.want_copy(id);
        continue;
      }
    }
    if (j.settings.straggler_factor > 0 && j.median_item_seconds > 0 && !f.speculated &&
        !f.wanted) {
      auto expected = std::chrono::duration<double>(j.settings.straggler_factor *
                                                    j.median_item_seconds * f.b.count);
      auto due = f.copies.front().sent +
                 std::max(straggler_floor, std::chrono::duration_cast<clock::duration>(expected));
      if (due > now) {
        next = std::min(next, due);
      } else {
        f.speculated = true;
        j.progress.speculated += f.b.count;
        j.want_copy(id);
      }
    }
  }
  cancel_all(give_up);
  return next;
}

}  // namespace

asio::awaitable<void> watchdog(std::shared_ptr<job> shared) {
  job& j = *shared;
  while (!j.stopping) {
    j.watch_timer.expires_at(look_at_deadlines(j, clock::now()));
    boost::system::error_code ec;  // cancelled: something changed, look again
    co_await j.watch_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  j.watching = false;
  j.changed.notify();
}

}  // namespace rpc_parallel::detail::map_engine
