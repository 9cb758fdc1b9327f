// The plain implementation running on a worker's user thread, as its guardian can cancel it.
#pragma once

#include "rpc_parallel/detail/call_context.hpp"

#include <cstdint>
#include <mutex>
#include <string>

namespace rpc_parallel::detail {

/// What a cancel connection (connection_purpose::cancel) carries after its handshake: which call
/// of which of the worker's connections to cancel.
struct cancel_request {
  static constexpr std::size_t size = 16;
  std::uint64_t connection = 0;  ///< The token the worker sent with that connection's open_ok.
  std::uint64_t call = 0;

  std::string bytes() const;
  static cancel_request parse(const unsigned char (&bytes)[size]) noexcept;
};

/// A plain implementation holds the user thread until it returns, so the cancel frame of its
/// call waits unread behind it. Its caller therefore also sends the cancel on a connection of its
/// own, which the guardian accepts and delivers here: `rpc_parallel::cancelled()` turns true
/// while the implementation still runs. One per worker server; shared with its listener.
class busy_call {
 public:
  /// On the user thread, around one plain implementation: makes it the busy call.
  class scope {
   public:
    scope(busy_call& busy, std::uint64_t connection, std::uint64_t call, call_context& context);
    ~scope();
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

   private:
    busy_call& busy_;
  };

  /// On the guardian thread: marks the requested call cancelled if it is the one running;
  /// otherwise does nothing (it has ended, or not started: its cancel frame will do).
  void cancel(const cancel_request& request) noexcept;

 private:
  std::mutex mutex_;
  cancel_request running_;
  call_context* context_ = nullptr;
};

}  // namespace rpc_parallel::detail
