#include "rpc_parallel/detail/wire.hpp"

#include <bit>
#include <cstring>

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
