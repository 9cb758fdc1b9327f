#include "rpc_parallel/detail/busy_call.hpp"

#include <cstring>

namespace rpc_parallel::detail {

std::string cancel_request::bytes() const {
  std::string out(size, '\0');
  std::memcpy(out.data(), &connection, 8);
  std::memcpy(out.data() + 8, &call, 8);
  return out;
}

cancel_request cancel_request::parse(const unsigned char (&bytes)[size]) noexcept {
  cancel_request request;
  std::memcpy(&request.connection, bytes, 8);
  std::memcpy(&request.call, bytes + 8, 8);
  return request;
}

busy_call::scope::scope(busy_call& busy, std::uint64_t connection, std::uint64_t call,
                        call_context& context)
    : busy_(busy) {
  std::lock_guard lock(busy_.mutex_);
  busy_.running_ = {connection, call};
  busy_.context_ = &context;
}

busy_call::scope::~scope() {
  std::lock_guard lock(busy_.mutex_);
  busy_.context_ = nullptr;
}

void busy_call::cancel(const cancel_request& request) noexcept {
  std::lock_guard lock(mutex_);
  if (context_ && request.connection == running_.connection && request.call == running_.call)
    context_->cancelled.store(true, std::memory_order_relaxed);
}

}  // namespace rpc_parallel::detail
