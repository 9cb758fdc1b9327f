// Built with g++ 12, a program that uses rpc_parallel gets one linker warning pointing to the
// coroutine rules that compiler needs (docs/gcc12_coroutines.md). A linker warning is printed
// once per link, whatever the number of files, and no -Werror turns it into an error.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
extern "C" const char rpc_parallel_gcc12_coroutine_rules;

namespace rpc_parallel::detail {
// One reference per program (an inline variable is merged at link time): the linker warns on it.
[[gnu::used]] inline const char* const gcc12_notice = &rpc_parallel_gcc12_coroutine_rules;
}  // namespace rpc_parallel::detail
#endif
