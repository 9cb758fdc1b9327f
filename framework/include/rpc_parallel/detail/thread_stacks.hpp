// The current stack of any thread of this process, for `--rpc-stacks`: taken by a signal the
// thread handles itself, wherever it is (a loop in user code, a blocking system call).
#pragma once

#include <sys/types.h>
#include <chrono>
#include <string>
#include <vector>

namespace rpc_parallel::detail {

/// The signal that asks a thread for its stack: SIGRTMAX - 2, which the framework handles
/// (installed once, by the first node; a handler the app set before is left in place).
int stack_signal() noexcept;
void install_stack_signal();

/// Thread `tid`'s stack, innermost frame first, one line per frame with its function's name.
/// Waits at most `timeout` for the thread to take the signal; then one line saying it did not.
/// One sample at a time per process (callers queue). Never call it for the calling thread.
std::vector<std::string> stack_of_thread(pid_t tid, std::chrono::milliseconds timeout);
/// The calling thread's stack, from its caller's frame on.
std::vector<std::string> stack_here();

}  // namespace rpc_parallel::detail
