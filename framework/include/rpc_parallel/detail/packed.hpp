// Many values in one buffer: a plain array for arithmetic types, length-prefixed encodings for
// the rest. How map-reduce batches travel.
#pragma once

#include "rpc_parallel/detail/codec.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rpc_parallel::detail {

/// Appends `value` to a packed buffer.
template <class T>
void pack(const T& value, std::string& out) {
  if constexpr (is_raw_v<T>) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
  } else {
    std::size_t at = out.size();
    out.append(4, '\0');
    encode(value, out);
    auto size = static_cast<std::uint32_t>(out.size() - at - 4);
    std::memcpy(out.data() + at, &size, 4);
  }
}

/// Packs values from `it` onwards, up to `max_items` of them, stopping at `end` or once `out`
/// holds `max_bytes` (the value that reaches it included); returns how many. Arithmetic values
/// are stored into one resize of `out`, with no growth check per value.
template <class T, class It, class End>
std::uint32_t pack_from(It& it, const End& end, std::uint32_t max_items, std::size_t max_bytes,
                        std::string& out) {
  std::uint32_t n = 0;
  if constexpr (is_raw_v<T>) {
    std::size_t start = out.size();
    std::size_t fit = start < max_bytes ? (max_bytes - start + sizeof(T) - 1) / sizeof(T) : 0;
    auto room = static_cast<std::uint32_t>(std::min<std::size_t>(max_items, fit));
    out.resize(start + std::size_t(room) * sizeof(T));
    char* at = out.data() + start;
    for (; n < room && it != end; ++it, ++n, at += sizeof(T)) {
      T value = static_cast<T>(*it);
      std::memcpy(at, &value, sizeof value);
    }
    out.resize(start + std::size_t(n) * sizeof(T));
  } else {
    for (; n < max_items && it != end && out.size() < max_bytes; ++it, ++n)
      pack(static_cast<T>(*it), out);
  }
  return n;
}

/// Reads values back from a packed buffer it does not own.
template <class T>
class unpacker {
 public:
  explicit unpacker(std::string_view bytes) : bytes_(bytes) {}

  /// The next value; throws `rpc_error` (failed) when the buffer ends inside one.
  // g++ 12 takes a short string's inline buffer for uninitialised in the copies below (a false
  // positive, seen with -O3 once inlined into a caller's string).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  T next() {
    if constexpr (is_raw_v<T>) {
      if (bytes_.size() < sizeof(T)) throw_malformed("packed values", "truncated");
      T value;
      std::memcpy(&value, bytes_.data(), sizeof value);
      bytes_.remove_prefix(sizeof value);
      return value;
    } else {
      std::uint32_t size = 0;
      if (bytes_.size() < 4) throw_malformed("packed values", "truncated");
      std::memcpy(&size, bytes_.data(), 4);
      if (bytes_.size() - 4 < size) throw_malformed("packed values", "truncated");
      T value = decode<T>(bytes_.substr(4, size), "packed value");
      bytes_.remove_prefix(4 + std::size_t(size));
      return value;
    }
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  bool empty() const noexcept { return bytes_.empty(); }
  /// What is left after the values read so far.
  std::string_view rest() const noexcept { return bytes_; }

 private:
  std::string_view bytes_;
};

/// Where each of the packed values in `bytes` ends (the offset past its last byte), found
/// without decoding them: to split a batch. Throws `rpc_error` (failed) on a truncated buffer.
template <class T>
std::vector<std::size_t> packed_ends(std::string_view bytes) {
  std::vector<std::size_t> ends;
  std::size_t at = 0;
  while (at < bytes.size()) {
    std::size_t size = sizeof(T);
    if constexpr (!is_raw_v<T>) {
      std::uint32_t encoded = 0;
      if (bytes.size() - at < 4) throw_malformed("packed values", "truncated");
      std::memcpy(&encoded, bytes.data() + at, 4);
      size = 4 + std::size_t(encoded);
    }
    if (bytes.size() - at < size) throw_malformed("packed values", "truncated");
    at += size;
    ends.push_back(at);
  }
  return ends;
}

}  // namespace rpc_parallel::detail
