// The app every test binary uses, and helpers to run test bodies with deadlines.
#pragma once

#include <rpc_parallel/app.hpp>
#include <rpc_parallel/rpc_settings.hpp>

#include <boost/asio/awaitable.hpp>

#include <sys/types.h>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace tests {

/// The app with every test worker type registered.
const rpc_parallel::app& app();

/// Runs a coroutine test body with fresh master state; fails if it takes longer than `deadline`.
void run(std::function<boost::asio::awaitable<void>()> body,
         std::chrono::seconds deadline = std::chrono::seconds(60),
         rpc_parallel::rpc_settings settings = {});

/// 'Z' for a zombie, 0 when `pid` does not exist, else its state letter from /proc.
char process_state(pid_t pid);
/// Children of this process that are zombies.
std::vector<pid_t> zombie_children();
/// Waits until `pid` has exited (gone, or a zombie) or `deadline` passes; true if it exited.
bool wait_until_exited(pid_t pid, std::chrono::milliseconds deadline);
/// Live (non-zombie) workers spawned by this process under `name`, found by their argv.
std::vector<pid_t> live_workers_named(const std::string& name);
/// Waits until no live worker of this process is named `name`; true if none is left in time.
bool wait_until_no_worker_named(const std::string& name, std::chrono::milliseconds deadline);
/// Path of the running test binary.
std::string self_path();

}  // namespace tests
