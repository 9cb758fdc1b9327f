#include "rpc_parallel/detail/wire.hpp"

#include "rpc_parallel/error.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <functional>

namespace rpc_parallel::detail {

// The header is little-endian; every supported host is (remote hosts run the same binary).
static_assert(std::endian::native == std::endian::little);

void write_frame_header(char* out, std::uint32_t size, frame_kind kind, std::uint8_t flags,
                        std::uint64_t id, std::uint16_t function) {
  std::memcpy(out, &size, 4);
  out[4] = static_cast<char>(kind);
  out[5] = static_cast<char>(flags);
  std::memcpy(out + 6, &function, 2);
  std::memcpy(out + 8, &id, 8);
}

void finish_frame(std::string& frame, frame_kind kind, std::uint64_t id, std::uint16_t function) {
  write_frame_header(frame.data(), static_cast<std::uint32_t>(frame.size() - frame_header_size),
                     kind, 0, id, function);
}

namespace {
using steady = std::chrono::steady_clock;

struct deadline_fields {
  std::int64_t left_us = 0;
  std::int64_t deadline_ns = 0;  ///< On the writer's steady clock.
  std::uint64_t boot = 0;        ///< The writer's kernel (boot_hash()).
};

// Hosts' monotonic clocks are comparable only within one kernel's boot: this tells them apart.
std::uint64_t boot_hash() {
  static const std::uint64_t hash = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    // Without a boot id, nothing matches: every reader uses the time left.
    return id.empty() ? std::uint64_t(0) : std::uint64_t(std::hash<std::string>()(id) | 1);
  }();
  return hash;
}
}  // namespace

std::string deadline_payload(steady::time_point deadline) {
  deadline_fields fields;
  auto left = std::chrono::ceil<std::chrono::microseconds>(deadline - steady::now());
  fields.left_us = std::max<std::int64_t>(left.count(), 0);
  fields.deadline_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  fields.boot = boot_hash();
  std::string payload(sizeof fields, '\0');
  std::memcpy(payload.data(), &fields, sizeof fields);
  return payload;
}

steady::time_point parse_deadline_payload(std::string_view payload) {
  deadline_fields fields;
  RPCP_REQUIRE(payload.size() == sizeof fields, "protocol error: a deadline frame of ",
               payload.size(), " bytes (", sizeof fields, " expected)");
  std::memcpy(&fields, payload.data(), sizeof fields);
  if (fields.boot != 0 && fields.boot == boot_hash())
    return steady::time_point(std::chrono::nanoseconds(fields.deadline_ns));
  // Far-off deadlines saturate instead of overflowing the clock.
  constexpr std::int64_t ten_years_us = 10ll * 365 * 24 * 3600 * 1000000;
  return steady::now() +
         std::chrono::microseconds(std::clamp<std::int64_t>(fields.left_us, 0, ten_years_us));
}

frame_header parse_frame_header(const char* bytes) {
  frame_header header;
  std::memcpy(&header.size, bytes, 4);
  header.kind = static_cast<std::uint8_t>(bytes[4]);
  header.flags = static_cast<std::uint8_t>(bytes[5]);
  std::memcpy(&header.function, bytes + 6, 2);
  std::memcpy(&header.id, bytes + 8, 8);
  return header;
}

}  // namespace rpc_parallel::detail
