// The log subscribers of one process, and the messages kept from its initialisation.
#pragma once

#include "rpc_parallel/log.hpp"
#include "rpc_parallel/stream.hpp"

#include <cstddef>
#include <vector>

namespace rpc_parallel::detail {

class log_hub {
 public:
  /// How many messages written during initialisation are kept for later subscribers.
  static constexpr std::size_t max_kept = 1024;

  /// Sends `message` to every subscriber. A subscriber that falls a whole stream window behind
  /// is closed with an error saying so, rather than holding unbounded memory or blocking the
  /// writer.
  void write(const log_message& message);
  /// Adds a subscriber; it first receives the kept messages.
  void subscribe(stream_writer<log_message> writer);
  /// While on, messages are also kept for later subscribers (during worker initialisation).
  void keep_messages(bool on) noexcept { keeping_ = on; }

 private:
  bool keeping_ = false;
  std::size_t dropped_ = 0;
  std::vector<log_message> kept_;
  std::vector<stream_writer<log_message>> subscribers_;
};

}  // namespace rpc_parallel::detail
