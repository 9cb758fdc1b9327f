#include "rpc_parallel/error.hpp"

#include <boost/system/system_error.hpp>

namespace rpc_parallel {

std::string_view to_string(error_kind kind) noexcept {
  switch (kind) {
    case error_kind::failed:
      return "failed";
    case error_kind::disconnected:
      return "disconnected";
    case error_kind::overloaded:
      return "overloaded";
    case error_kind::unimplemented:
      return "unimplemented";
    case error_kind::timed_out:
      return "timed_out";
    case error_kind::cancelled:
      return "cancelled";
  }
  return "unknown";
}

rpc_error::rpc_error(rpc_parallel::error e)
    : std::runtime_error(std::string(to_string(e.kind)) + ": " + e.message), error_(std::move(e)) {}

void throw_exception_from_error(const error& e, const boost::source_location& /*where*/) {
  throw rpc_error(e);
}

error with_context(error e, std::string_view context) {
  e.message = std::string(context) + ": " + e.message;
  return e;
}

error error_of(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (...) {
    return current_exception_error();
  }
}

error current_exception_error() {
  try {
    throw;
  } catch (const rpc_error& e) {
    return e.get();
  } catch (const boost::system::system_error& e) {
    // Its what() carries Boost's source location; the code's message is what users need.
    return {error_kind::failed, e.code().message()};
  } catch (const std::exception& e) {
    return {error_kind::failed, e.what()};
  } catch (...) {
    return {error_kind::failed, "unknown exception (not derived from std::exception)"};
  }
}

}  // namespace rpc_parallel
