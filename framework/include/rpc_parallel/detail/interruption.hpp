// SIGTERM and SIGINT in a master: a graceful end for what can end gracefully, then the default.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/signal_set.hpp>

#include <functional>
#include <list>

namespace rpc_parallel::detail {

/// Installed by `app::run` in a master, for its lifetime. The first SIGTERM or SIGINT goes to
/// the operations that can end gracefully (`interruption_listener`s: a map-reduce call stops
/// handing out items and finishes its batches in flight); with none running, or at the second
/// signal, the process dies of the signal as it would by default, and its workers see their
/// master's end as always.
class interruption_handler {
 public:
  explicit interruption_handler(const boost::asio::any_io_executor& executor);
  interruption_handler(const interruption_handler&) = delete;
  interruption_handler& operator=(const interruption_handler&) = delete;

 private:
  void wait();
  boost::asio::signal_set signals_;
  bool interrupted_ = false;
};

/// The signal of the first SIGTERM or SIGINT the handler took, or 0.
int interrupting_signal() noexcept;

/// While alive, `on_interrupt(signal)` hears the first SIGTERM or SIGINT of a master run by
/// `app::run` (never, elsewhere). Used on the master's I/O thread only.
class interruption_listener {
 public:
  explicit interruption_listener(std::function<void(int signal)> on_interrupt);
  ~interruption_listener();
  interruption_listener(const interruption_listener&) = delete;
  interruption_listener& operator=(const interruption_listener&) = delete;

 private:
  std::list<std::function<void(int)>>::iterator self_;
};

}  // namespace rpc_parallel::detail
