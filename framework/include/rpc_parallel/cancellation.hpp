// What a worker's implementation asks to learn that its call should stop.
#pragma once

#include <chrono>

namespace rpc_parallel {

/// Inside a plain (non-coroutine) implementation: whether its caller cancelled the call or its
/// deadline has passed. Cheap enough to poll in a loop (an atomic load and, when the call has a
/// deadline, a clock read); false outside a call. A coroutine implementation is cancelled at
/// its next `co_await` instead: it sees `boost::asio::error::operation_aborted` through Asio's
/// cancellation state (`co_await boost::asio::this_coro::cancellation_state` to look first).
bool cancelled() noexcept;

/// The deadline of the call being served on this thread (plain implementations; coroutine
/// implementations pass theirs on to the calls they make by themselves), or `max()`.
std::chrono::steady_clock::time_point current_deadline() noexcept;

}  // namespace rpc_parallel
