#include "rpc_parallel/detail/call_context.hpp"

#include "rpc_parallel/cancellation.hpp"

namespace rpc_parallel {
namespace detail {
namespace {
thread_local const call_context* current_call = nullptr;
}

current_call_scope::current_call_scope(const call_context& context) noexcept
    : previous_(current_call) {
  current_call = &context;
}

current_call_scope::~current_call_scope() { current_call = previous_; }

clock::time_point deadline_inherited_by(const boost::asio::any_io_executor& executor) noexcept {
  const auto* tagged = executor.target<call_executor>();
  return tagged ? tagged->context()->deadline : no_deadline;
}

}  // namespace detail

bool cancelled() noexcept {
  const detail::call_context* call = detail::current_call;
  if (!call) return false;
  if (call->cancelled.load(std::memory_order_relaxed)) return true;
  return call->deadline != detail::no_deadline && detail::clock::now() >= call->deadline;
}

std::chrono::steady_clock::time_point current_deadline() noexcept {
  return detail::current_call ? detail::current_call->deadline : detail::no_deadline;
}

}  // namespace rpc_parallel
