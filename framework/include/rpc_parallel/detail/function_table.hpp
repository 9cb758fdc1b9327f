// The type-erased table of one worker type's functions, as the server dispatches it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace rpc_parallel::detail {

class inbound_stream;
class outbound_stream;

/// Runs a function to completion on the calling thread, appending the encoded response to
/// `reply` (a frame buffer: `begin_frame()`). The query is the call's payload, moved in.
using sync_handler =
    std::function<void(void* state, void* conn_state, std::string query, std::string& reply)>;
/// Runs a coroutine function; the result is a frame buffer (`begin_frame()` + the encoded
/// response), so that the reply goes out without another copy.
using async_handler = std::function<boost::asio::awaitable<std::string>(
    void* state, void* conn_state, std::string query)>;

/// Runs a streaming function over the stream its call opened (`out` for the pipe kinds, `in`
/// for a reverse pipe); the result is the encoded reply (empty for pipes, the state, or the
/// reverse pipe's response).
using stream_handler = std::function<boost::asio::awaitable<std::string>(
    void* state, void* conn_state, std::string query, std::shared_ptr<outbound_stream> out,
    std::shared_ptr<inbound_stream> in)>;

enum class function_kind : std::uint8_t { rpc, one_way, pipe, direct_pipe, reverse_pipe, state };

/// Whether calls of `kind` open a stream (sent as stream_call frames).
inline bool is_streaming(function_kind kind) noexcept {
  return kind != function_kind::rpc && kind != function_kind::one_way;
}

struct function_entry {
  std::string name;
  std::string signature;  ///< "name(query type) -> response type", compared at connect.
  function_kind kind = function_kind::rpc;
  sync_handler sync;  ///< Exactly one of `sync`, `async` and `stream` is set.
  async_handler async;
  stream_handler stream;
};

class function_table {
 public:
  /// Throws `rpc_error` when `entry.name` is already taken.
  void add(function_entry entry);
  /// The index of `name`, or -1.
  std::int64_t find(std::string_view name) const noexcept;
  const function_entry& at(std::size_t index) const { return entries_.at(index); }
  std::size_t size() const noexcept { return entries_.size(); }
  std::vector<std::string> signatures() const;

 private:
  std::vector<function_entry> entries_;
};

/// The readable (demangled) name of a type, for signatures and error messages.
std::string type_name(const std::type_info& type);

}  // namespace rpc_parallel::detail
