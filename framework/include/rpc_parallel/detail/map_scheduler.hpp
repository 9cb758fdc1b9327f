// The untyped engine under map-reduce: batches pulled lazily from the input, kept in flight on
// every slot of a supervised pool, sent again elsewhere when a worker is lost or slow, and
// delivered once each, in order when asked.
#pragma once

#include "rpc_parallel/error.hpp"
#include "rpc_parallel/map_progress.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rpc_parallel::detail {

/// How a batch's reply starts: then the packed outputs, or the failing item's offset and error.
enum class batch_status : std::uint8_t { ok = 0, item_failed = 1 };

/// What the typed layer gives the engine. A slot is a place in the pool: its worker may be
/// replaced during the job.
struct map_hooks {
  /// Appends up to `max_items` packed inputs to `payload` (stopping early past `max_bytes`) and
  /// returns how many; 0 once the input is exhausted.
  std::function<std::uint32_t(std::uint32_t max_items, std::size_t max_bytes, std::string& payload)>
      pull;
  /// Runs a batch on slot `slot`'s worker and returns its reply. Throws `rpc_error`:
  /// `disconnected` when the worker is lost, `cancelled` when the engine cancelled the call.
  std::function<boost::asio::awaitable<std::string>(std::size_t slot, std::string payload)> run;
  /// Waits until slot `slot` has a worker taking batches: true; false when it never will again
  /// (its host was excluded, the pool closed, or `stop` was called). Throws the pool's give-up
  /// error.
  std::function<boost::asio::awaitable<bool>(std::size_t slot)> ready;
  /// Whether slot `slot`'s worker takes batches now.
  std::function<bool(std::size_t slot)> up;
  /// Takes the outputs of items [first, first + count) (the reply after its header: the status
  /// byte, and with per-item errors the u32 count of failed items). Returns false to stop the
  /// job early (the caller has what it wants).
  std::function<bool(std::uint64_t first, std::uint32_t count, std::string_view outputs)> deliver;
  /// With per-item errors: the outcomes of `count` items that failed with `e` (pack_failure).
  std::function<std::string(std::uint32_t count, const rpc_parallel::error& e)> failed_outcomes;
  /// Where each packed input of a batch's payload ends (packed_ends), to split a batch.
  std::function<std::vector<std::size_t>(std::string_view payload)> item_ends;
  /// Workers up now, and the hosts excluded: for progress.
  std::function<std::size_t()> live;
  std::function<std::vector<std::string>()> excluded_hosts;
  /// The job is over: `ready` returns false from now on, and a pool made for the job closes.
  std::function<void()> stop;
};

struct map_job_settings {
  std::size_t slots = 0;
  std::size_t batches_in_flight = 2;  ///< Per slot.
  std::uint32_t batch_size = 0;       ///< 0: adaptive.
  int retries = 2;  ///< Per item: workers lost running it, or past the item timeout, beyond one.
  std::chrono::milliseconds item_timeout{0};  ///< A batch of n items may take n times this.
  /// A batch taking this many times the median (per item, times its items) is sent to a second
  /// worker too, once enough batches are done to know the median (0: never).
  double straggler_factor = 0;
  bool ordered = false;  ///< Deliver batches in input order.
  /// Replies carry each item's outcome, and an item that fails on more workers than the retries
  /// allow is delivered as its error: the job goes on.
  bool per_item_errors = false;
  std::optional<std::uint64_t> total;  ///< Number of inputs, when known (for the ETA).
  std::function<void(const map_progress&)> on_progress;
  bool progress_bar = false;  ///< Draw one on stdout (the caller checked it is a terminal).
  /// After a master's SIGTERM or SIGINT, how long the batches in flight may take to finish.
  std::chrono::milliseconds drain_grace{10000};
};

/// Runs the job to its end: every input delivered, `deliver` returned false, or a failure.
/// Throws `rpc_error`: `failed` naming the item whose function threw; the kind of the last
/// failure naming the items that failed on more workers than the retries allow (unless
/// per-item errors); the pool's give-up error; `cancelled` after a SIGTERM or SIGINT of the
/// master (`interruption_listener`), once the batches in flight have finished, saying how much
/// was done.
boost::asio::awaitable<void> run_map_job(map_hooks hooks, map_job_settings settings);

}  // namespace rpc_parallel::detail
