// Large-value memory figures: what a 200 MB argument and a 200 MB reply cost each side.
#pragma once

#include <boost/asio/awaitable.hpp>

namespace bench {

/// Calls `size_of` with a 200 MB string (50 MB when quick), then `make` for one, and reports
/// each side's peak resident memory above its level before the call, in units of the value's
/// size. The caller's own copy of the value is not counted: before the argument's call the
/// master already holds it, and after the reply's it holds the one value it asked for.
boost::asio::awaitable<void> measure_large_value_memory(bool quick);

}  // namespace bench
