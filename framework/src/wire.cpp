#include "rpc_parallel/detail/wire.hpp"

#include <bit>
#include <cstring>

namespace rpc_parallel::detail {

// The header is little-endian; every supported host is (remote hosts run the same binary).
static_assert(std::endian::native == std::endian::little);

void finish_frame(std::string& frame, frame_kind kind, std::uint64_t id) {
  auto size = static_cast<std::uint32_t>(frame.size() - frame_header_size);
  std::memcpy(frame.data(), &size, 4);
  frame[4] = static_cast<char>(kind);
  std::memset(frame.data() + 5, 0, 3);
  std::memcpy(frame.data() + 8, &id, 8);
}

frame_header parse_frame_header(const char* bytes) {
  frame_header header;
  std::memcpy(&header.size, bytes, 4);
  header.kind = static_cast<std::uint8_t>(bytes[4]);
  std::memcpy(&header.id, bytes + 8, 8);
  return header;
}

}  // namespace rpc_parallel::detail
