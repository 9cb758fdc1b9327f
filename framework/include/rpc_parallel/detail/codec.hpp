// Values to bytes and back: a memcpy for arithmetic types, strings and vectors of numbers,
// Boost.Serialization for the rest.
#pragma once

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>

#include <boost/serialization/split_free.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// Boost 1.81 serialises boost::optional but not std::optional: a flag, then the value if any.
namespace boost::serialization {
template <class Archive, class T>
void save(Archive& archive, const std::optional<T>& value, unsigned /*version*/) {
  bool present = value.has_value();
  archive << present;
  if (present) archive << *value;
}
template <class Archive, class T>
void load(Archive& archive, std::optional<T>& value, unsigned /*version*/) {
  bool present = false;
  archive >> present;
  if (!present) {
    value.reset();
    return;
  }
  T inner{};
  archive >> inner;
  value = std::move(inner);
}
template <class Archive, class T>
void serialize(Archive& archive, std::optional<T>& value, unsigned version) {
  split_free(archive, value, version);
}
}  // namespace boost::serialization

namespace rpc_parallel::detail {

/// Thrown by a bounded `encode` when the encoding would pass its limit.
struct encoding_too_large {};

/// A streambuf that appends to a string, so archives write straight into a frame buffer; past
/// `limit` bytes it throws `encoding_too_large` instead.
class string_sink : public std::streambuf {
 public:
  explicit string_sink(std::string& out, std::size_t limit = SIZE_MAX) : out_(out), limit_(limit) {}

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      if (out_.size() >= limit_) throw encoding_too_large{};
      out_.push_back(traits_type::to_char_type(c));
    }
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (static_cast<std::size_t>(n) > limit_ - std::min(limit_, out_.size()))
      throw encoding_too_large{};
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }

 private:
  std::string& out_;
  std::size_t limit_;
};

/// A read-only streambuf over bytes that it does not own.
class bytes_source : public std::streambuf {
 public:
  explicit bytes_source(std::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};

inline constexpr unsigned archive_flags = boost::archive::no_header | boost::archive::no_tracking;

template <class T>
inline constexpr bool is_raw_v = std::is_arithmetic_v<T> || std::is_enum_v<T>;
/// A string is its own encoding (its length is the message's): no archive, and no copy on
/// decoding a message it may take over.
template <class T>
inline constexpr bool is_bytes_v = std::is_same_v<T, std::string>;

/// A vector of numbers is its elements' bytes (the count is the message's length over their
/// size): one copy each way instead of Boost's element loop. Not `vector<bool>`, which packs bits.
template <class T>
inline constexpr bool is_number_vector_v = false;
template <class E>
inline constexpr bool is_number_vector_v<std::vector<E>> = is_raw_v<E> && !std::is_same_v<E, bool>;

/// Appends the encoding of `value` to `out`. Throws `encoding_too_large` (having copied at
/// most up to the limit) if `out` would grow past `limit` bytes.
template <class T>
void encode(const T& value, std::string& out, std::size_t limit = SIZE_MAX) {
  if constexpr (is_raw_v<T>) {
    if (out.size() + sizeof value > limit) throw encoding_too_large{};
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
  } else if constexpr (is_bytes_v<T>) {
    if (value.size() > limit - std::min(limit, out.size())) throw encoding_too_large{};
    out.append(value);
  } else if constexpr (is_number_vector_v<T>) {
    std::size_t size = value.size() * sizeof(typename T::value_type);
    if (size > limit - std::min(limit, out.size())) throw encoding_too_large{};
    if (size != 0) out.append(reinterpret_cast<const char*>(value.data()), size);
  } else {
    string_sink sink(out, limit);
    boost::archive::binary_oarchive archive(sink, archive_flags);
    archive << value;
  }
}

[[noreturn]] void throw_malformed(std::string_view what, std::string_view detail);

/// Decodes a `T` from exactly `bytes`. Throws `rpc_error` (failed) on malformed input.
template <class T>
T decode(std::string_view bytes, std::string_view what) {
  if constexpr (is_raw_v<T>) {
    if (bytes.size() != sizeof(T)) throw_malformed(what, "wrong size");
    T value;
    std::memcpy(&value, bytes.data(), sizeof value);
    return value;
  } else if constexpr (is_bytes_v<T>) {
    return std::string(bytes);
  } else if constexpr (is_number_vector_v<T>) {
    using element = typename T::value_type;
    if (bytes.size() % sizeof(element) != 0) throw_malformed(what, "wrong size");
    T value(bytes.size() / sizeof(element));
    if (!bytes.empty()) std::memcpy(value.data(), bytes.data(), bytes.size());
    return value;
  } else {
    try {
      bytes_source source(bytes);
      boost::archive::binary_iarchive archive(source, archive_flags);
      T value{};
      archive >> value;
      return value;
    } catch (const std::exception& e) {
      throw_malformed(what, e.what());
    }
  }
}

/// `decode` from a message it may take over: a string moves instead of being copied.
template <class T>
T decode_owned(std::string&& bytes, std::string_view what) {
  if constexpr (is_bytes_v<T>)
    return std::move(bytes);
  else
    return decode<T>(std::string_view(bytes), what);
}

}  // namespace rpc_parallel::detail
