#include "rpc_parallel/detail/function_table.hpp"

#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/wire.hpp"
#include "rpc_parallel/error.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace rpc_parallel::detail {

void function_table::add(function_entry entry) {
  RPCP_REQUIRE(find(entry.name) < 0, "function \"", entry.name,
               "\" is added twice; each function of a worker type needs its own name");
  RPCP_REQUIRE(entries_.size() + 1 < max_functions, "worker type has too many functions (",
               max_functions - 1, " at most)");
  entries_.push_back(std::move(entry));
}

std::int64_t function_table::find(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return static_cast<std::int64_t>(i);
  return -1;
}

std::vector<std::string> function_table::signatures() const {
  std::vector<std::string> result;
  for (const auto& entry : entries_) result.push_back(entry.signature);
  return result;
}

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

void throw_malformed(std::string_view what, std::string_view detail) {
  throw rpc_error({error_kind::failed, "malformed " + std::string(what) + " (" +
                                           std::string(detail) +
                                           "): sender and receiver disagree on its type"});
}

}  // namespace rpc_parallel::detail
