// The precompiled header of the builds in this tree: the framework's headers and the Boost
// headers that nearly every file here parses. Each Jamfile builds it once per build variant
// (`cpp-pch`) and the compiler reads it before each source (framework/Jamfile says where not).
// Build speed only: no file includes it, so each still states what it uses. No include guard:
// it is compiled as a main file, where `#pragma once` draws a warning from g++.

#include <rpc_parallel/rpc_parallel.hpp>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>
