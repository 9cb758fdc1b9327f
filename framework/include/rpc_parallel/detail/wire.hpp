// Frame layout shared by every connection after authentication (docs/protocol.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpc_parallel::detail {

/// What a frame carries. Every frame starts with a 16-byte header:
/// u32 payload size, u8 kind, u8 flags, u16 function index (of a call, one_way or stream_call;
/// else 0), u64 id (call id; 0 when unused). Little-endian.
enum class frame_kind : std::uint8_t {
  open = 1,            ///< client -> worker: open_request
  open_ok = 2,         ///< worker -> client
  open_error = 3,      ///< worker -> client: error
  call = 4,            ///< client -> worker: query (the function index is in the header)
  one_way = 5,         ///< client -> worker: query
  reply_ok = 6,        ///< worker -> client: response
  reply_error = 7,     ///< worker -> client: error
  shutdown = 8,        ///< client -> worker: exit the worker (or stop a served one)
  close_server = 9,    ///< client -> worker: stop accepting; answered by reply_ok
  registration = 10,   ///< worker -> master: registration
  init_done = 11,      ///< worker -> master: empty, or an error from init_worker_state
  failure = 12,        ///< worker -> master: background failure (error); the worker then exits
  spawned = 13,        ///< master -> worker: the spawn succeeded; until then a lost link ends it
  stream_call = 14,    ///< client -> worker: query; opens stream `id`
  stream_item = 15,    ///< writer -> reader: one value of stream `id`
  stream_end = 16,     ///< writer -> reader: empty (closed by the writer), or an error
  stream_credit = 17,  ///< reader -> writer: u64 more bytes the writer may send
  stream_abort = 18,   ///< reader -> writer: stop writing; the writer answers with stream_end
  deadline = 19,     ///< client -> worker: u64 microseconds left for call `id`, sent just before it
  cancel = 20,       ///< client -> worker: stop call `id` (its caller no longer waits)
  leaving = 21,      ///< worker -> client: why; it answers the calls it has, then exits
  join = 22,         ///< joining worker -> master, its first frame: join_request
  join_config = 23,  ///< master -> joining worker: worker_config; then it registers on the link
  trace = 24,        ///< worker -> client or master: its spans for the trace file (trace.hpp)
};
inline constexpr std::uint8_t max_frame_kind = 24;
inline constexpr std::size_t frame_header_size = 16;
/// Flag of a stream_item whose value continues in the next stream_item of the same stream (a
/// large value travels in fragments so that other frames can pass between them).
inline constexpr std::uint8_t frame_flag_more = 1;
/// The function index of the log subscription every worker offers outside its table.
inline constexpr std::uint16_t log_function_index = 0xFFFF;
/// Function tables hold fewer functions than this (indexes are 16 bits, one kept for the log).
inline constexpr std::size_t max_functions = log_function_index;

/// A frame buffer: reserve the header, append the payload, then `finish_frame`.
inline std::string begin_frame() { return std::string(frame_header_size, '\0'); }

/// A stream value on its way out: a frame buffer (`begin_frame` + the encoding, so the payload
/// is at `frame_header_size`), or a string taken over from its writer as it is (the payload at
/// 0), whose header the transport writes beside it: a large string leaves from its own buffer.
struct stream_value {
  std::string bytes;
  std::size_t payload_at = frame_header_size;

  std::size_t payload_size() const noexcept { return bytes.size() - payload_at; }
  /// What it costs the stream's credit: the payload and one header.
  std::size_t frame_size() const noexcept { return payload_size() + frame_header_size; }
};
void finish_frame(std::string& frame, frame_kind kind, std::uint64_t id,
                  std::uint16_t function = 0);
/// Writes a header for `size` payload bytes into `out` (16 bytes).
void write_frame_header(char* out, std::uint32_t size, frame_kind kind, std::uint8_t flags,
                        std::uint64_t id, std::uint16_t function = 0);

/// A call, one-way call or stream call on its way out: the function's index and its frame
/// buffer (`begin_frame` + the encoded query). The client adds the kind and the call id.
struct call_frame {
  std::uint16_t function = 0;
  std::string bytes;
};

/// The payload of a deadline frame: the time left in microseconds, and the deadline itself on
/// this host's monotonic clock with the kernel's boot id. A reader on the same kernel (this
/// host, or a namespace of it) takes the deadline itself, so that time the frame spent queued
/// (behind a busy worker) counts; another host takes the time left from when it reads it.
std::string deadline_payload(std::chrono::steady_clock::time_point deadline);
/// The deadline a deadline frame's payload carries, on our clock; throws `rpc_error` (failed)
/// if it is malformed.
std::chrono::steady_clock::time_point parse_deadline_payload(std::string_view payload);

struct frame_header {
  std::uint32_t size = 0;
  std::uint8_t kind = 0;
  std::uint8_t flags = 0;
  std::uint16_t function = 0;
  std::uint64_t id = 0;
};
frame_header parse_frame_header(const char* bytes);

}  // namespace rpc_parallel::detail
