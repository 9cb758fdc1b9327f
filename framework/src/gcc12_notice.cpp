// The symbol that detail/gcc12_notice.hpp references under g++ 12, and the linker's warning for
// it: GNU ld and gold print a section `.gnu.warning.SYMBOL` when a link references SYMBOL.
extern "C" {
extern const char rpc_parallel_gcc12_coroutine_rules;
const char rpc_parallel_gcc12_coroutine_rules = 0;
}

__asm__(
    ".section .gnu.warning.rpc_parallel_gcc12_coroutine_rules, \"\", @progbits\n\t"
    ".string \"rpc_parallel: built with g++ 12, which destroys some temporaries in co_await "
    "expressions twice; follow the four rules in docs/gcc12_coroutines.md, or build with "
    "clang 16 (the default)\"\n\t"
    ".previous");
