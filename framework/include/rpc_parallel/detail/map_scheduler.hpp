// The untyped engine under map-reduce: batches pulled lazily from the input, kept in flight on
// every worker, retried elsewhere when a worker is lost, and delivered in order when asked.
#pragma once

#include "rpc_parallel/call_options.hpp"
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

/// What the typed layer gives the engine.
struct map_hooks {
  /// Appends up to `max_items` packed inputs to `payload` (stopping early past `max_bytes`) and
  /// returns how many; 0 once the input is exhausted.
  std::function<std::uint32_t(std::uint32_t max_items, std::size_t max_bytes, std::string& payload)>
      pull;
  /// Runs a batch on worker `worker` under `options` and returns its reply. Throws `rpc_error`:
  /// `disconnected` when the worker is lost, `timed_out` past the options' deadline.
  std::function<boost::asio::awaitable<std::string>(std::size_t worker, std::string payload,
                                                    call_options options)>
      run;
  /// Takes the outputs of items [first, first + count) (the reply after its status byte).
  /// Returns false to stop the job early (the caller has what it wants).
  std::function<bool(std::uint64_t first, std::uint32_t count, std::string_view outputs)> deliver;
  /// Where each packed input of a batch's payload ends (packed_ends), to split a batch.
  std::function<std::vector<std::size_t>(std::string_view payload)> item_ends;
  /// Ends every worker's calls at once (closes their connections), so nothing outlives the job.
  std::function<void()> stop;
};

struct map_job_settings {
  std::size_t workers = 0;
  std::size_t batches_in_flight = 2;  ///< Per worker.
  std::uint32_t batch_size = 0;       ///< 0: adaptive.
  int retries = 2;                    ///< Per item, when its worker is lost or it times out.
  std::chrono::milliseconds item_timeout{0};  ///< A batch of n items may take n times this.
  bool ordered = false;                       ///< Deliver batches in input order.
  std::optional<std::uint64_t> total;         ///< Number of inputs, when known (for the ETA).
  std::function<void(const map_progress&)> on_progress;
  bool progress_bar = false;  ///< Draw one on stdout (the caller checked it is a terminal).
};

/// Runs the job to its end: every input delivered, `deliver` returned false, or a failure.
/// Throws `rpc_error`: `failed` naming the item whose function threw; `disconnected` when every
/// worker is lost or an item was lost on more workers than its retries allow.
boost::asio::awaitable<void> run_map_job(map_hooks hooks, map_job_settings settings);

}  // namespace rpc_parallel::detail
