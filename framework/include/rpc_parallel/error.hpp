// The one error value of the framework, its exception, and or_error<T>.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rpc_parallel {

/// What the caller may do about an error.
enum class error_kind : std::uint8_t {
  failed,         ///< The operation ran and failed; retrying the same input fails again.
  disconnected,   ///< The peer went away; reconnect or respawn.
  overloaded,     ///< The peer refused for lack of capacity; retry later.
  unimplemented,  ///< The peer does not offer this worker type or function: binaries differ.
  timed_out,      ///< A deadline passed; the worker was told to stop.
  cancelled,      ///< The caller cancelled the operation (Asio cancellation); the worker too.
};

std::string_view to_string(error_kind kind) noexcept;

/// A serialisable error: a kind and a message that says what failed and how to fix it.
struct error {
  error_kind kind = error_kind::failed;
  std::string message;

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& kind& message;
  }
  bool operator==(const error&) const = default;
};

/// The exception thrown by the throwing twins (`run`, `spawn`, `connect`, ...).
class rpc_error : public std::runtime_error {
 public:
  explicit rpc_error(rpc_parallel::error e);
  const rpc_parallel::error& get() const noexcept { return error_; }
  error_kind kind() const noexcept { return error_.kind; }

 private:
  rpc_parallel::error error_;
};

/// Result of the `try_` twins: a value or an `error`. Rpc_parallel's `Or_error.t`.
template <class T>
using or_error = boost::system::result<T, error>;

/// Lets `or_error<T>::value()` throw `rpc_error` (found by argument-dependent lookup).
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& where);

/// `e` with `context` prefixed to its message: "spawn worker \"sum-3\": <message>".
error with_context(error e, std::string_view context);

/// The error carried by the current exception: an `rpc_error` keeps its kind, anything else is
/// `failed` with its `what()`. Call only inside a `catch` block.
error current_exception_error();

/// The error carried by `failure` (not null), as `current_exception_error` would say it.
error error_of(std::exception_ptr failure);

namespace detail {
// The text says what is wrong and how to fix it; the condition itself would only be noise.
template <class... Parts>
[[noreturn]] void require_failed(const char* /*condition*/, const Parts&... parts) {
  std::ostringstream text;
  (text << ... << parts);
  throw rpc_error({error_kind::failed, text.str()});
}
}  // namespace detail

}  // namespace rpc_parallel

/// Checks a precondition; on failure throws `rpc_error` of kind `failed` with the streamed text.
#define RPCP_REQUIRE(condition, ...) \
  ((condition) ? void() : ::rpc_parallel::detail::require_failed(#condition, __VA_ARGS__))
