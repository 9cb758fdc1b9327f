// A worker's last words: what it writes to its stderr (which its spawner keeps the tail of) when
// it dies by anything it can see, so that the spawner's error can say how it died.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rpc_parallel::detail {

/// The line that starts a death note; the spawner looks for it in the tail of the stderr.
inline constexpr std::string_view death_note_marker = "rpc_parallel: worker died: ";

/// The line a worker writes when the framework ends it (shutdown, its owner gone): no death.
inline constexpr std::string_view clean_exit_marker = "rpc_parallel: worker exiting: ";

/// Installs, in a worker process, the writers of its death note: for a fault (SIGSEGV, SIGBUS,
/// SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS) and for a terminating signal another process sent
/// (SIGTERM, SIGINT, SIGHUP, ... while nothing else handles it): the signal by name, its sender,
/// the peak RSS and a symbolised stack trace, then the default action; for an uncaught
/// exception (its text and the trace) and for `exit` called by user code (the status and the
/// trace). SIGKILL and SIGSTOP cannot be caught, nor can `_exit` (or a sanitizer's halt) be
/// seen: a worker that leaves no note was killed by SIGKILL, called `_exit`, or lost its host.
void install_death_notes();

/// From now on the first SIGTERM, when the death notes handle it (its disposition was the
/// default), is not fatal: the sender's pid is written to `fd` (an std::int64_t), for the worker
/// to leave gracefully. A second SIGTERM is fatal, with its note, as before.
void leave_on_first_sigterm(int fd) noexcept;
/// Whether that first SIGTERM has come (readable at any time, unlike the pipe), and its
/// sender's pid (0 when unknown).
bool leave_requested() noexcept;
std::int64_t leave_sender() noexcept;

/// The framework itself ends the process: no death note; the clean-exit line when `announce`
/// (the stderr is the spawner's pipe).
void expect_clean_exit(std::string_view why, bool announce) noexcept;

/// "SIGSEGV (Segmentation fault)".
std::string signal_name(int signal);
/// "SIGSEGV".
std::string signal_abbreviation(int signal);

}  // namespace rpc_parallel::detail
