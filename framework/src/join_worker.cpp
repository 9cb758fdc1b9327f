// A worker that joins by itself (join_worker.hpp):
//   1. find the master: the address given, or the rendezvous file once it exists (its writer
//      renames it into place, so it is whole when seen);
//   2. connect and prove the secret, with a `join` frame (join_request) as the first frame;
//   3. read the master's answer: a `join_config` (a spawn took it: its worker_config, without the
//      secret) or an `open_error` saying why not;
//   4. serve as a spawned worker would, registering on that same link (worker_runtime).
#include "rpc_parallel/detail/join_worker.hpp"

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/death_note.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/rendezvous.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/detail/wire.hpp"
#include "rpc_parallel/detail/worker_config.hpp"
#include "rpc_parallel/detail/worker_runtime.hpp"
#include "rpc_parallel/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

namespace rpc_parallel::detail {
namespace {
namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

[[noreturn]] void fail(std::string what) { throw rpc_error({error_kind::failed, std::move(what)}); }

std::chrono::milliseconds left_until(clock::time_point end) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(end - clock::now()));
}

// "HOST:PORT" names an address; anything else (a path) a rendezvous file.
bool names_an_address(const std::string& target) {
  return target.rfind(':') != std::string::npos && target.find('/') == std::string::npos;
}

// Step 1: the addresses to try and the secret.
rendezvous find_master(const join_settings& s, clock::time_point end) {
  rendezvous found;
  bool is_address = names_an_address(s.target);
  if (is_address) {
    auto colon = s.target.rfind(':');
    found.addresses.push_back(s.target.substr(0, colon));
    found.port = static_cast<std::uint16_t>(std::stoul(s.target.substr(colon + 1)));
  } else {
    // Nothing tells us when another host's process writes a file on a shared file system:
    // look every 20 ms.
    for (;;) {
      if (auto r = read_rendezvous(s.target)) {
        found = std::move(*r);
        break;
      }
      if (clock::now() >= end)
        fail(s.who + " waited " + std::to_string(s.timeout.count()) +
             " ms for the master's rendezvous file " + s.target +
             " (rank 0 writes it once it listens): did the master start, and is that path on a "
             "file system every node shares? (--rpc-rendezvous, --rpc-join-timeout-ms)");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (!s.secret_file.empty()) {
    found.key = read_secret_file(s.secret_file);
  } else if (const char* hex = std::getenv("RPC_PARALLEL_SECRET")) {
    found.key = secret_from_hex(hex, "$RPC_PARALLEL_SECRET");
  } else if (is_address) {
    fail(s.who + " has no secret to join " + s.target +
         " with: give --rpc-secret-file (joins::open's secret_file) or $RPC_PARALLEL_SECRET");
  }
  return found;
}

std::string join_frame(const join_settings& s) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string frame = begin_frame();
  encode(join_request{s.type, host, static_cast<std::int64_t>(::getpid())}, frame);
  finish_frame(frame, frame_kind::join, 0);
  return frame;
}

// Steps 2 and 3 on one address: the socket that proved the secret, and the configuration;
// nullopt when the master closed the link without taking this worker (it ended first).
asio::awaitable<std::optional<worker_config>> join_at(stream_socket& socket,
                                                      const std::string& address,
                                                      const rendezvous& r, const join_settings& s,
                                                      clock::time_point end) {
  std::string peer = "master at " + address + ":" + std::to_string(r.port);
  tcp::endpoint master(asio::ip::make_address(address), r.port);
  std::string what = "connecting to the " + peer;
  tcp::socket connecting(socket.get_executor());
  co_await with_deadline(connecting.async_connect(master, asio::use_awaitable), left_until(end),
                         std::move(what));
  socket = stream_socket(std::move(connecting));  // joins are TCP: the master may be anywhere
  std::string first = join_frame(s);
  try {
    co_await authenticate_client(socket, r.key, s.settings.handshake_timeout, peer,
                                 std::move(first));
  } catch (const std::exception& e) {
    fail("the " + peer + " refused " + s.who + " (" + e.what() +
         "): its secret is not this one; check --rpc-secret-file or $RPC_PARALLEL_SECRET");
  }
  // Taken by a spawn only when the master needs a worker: no deadline on this wait. A master
  // that dies meanwhile closes the connection.
  char header[frame_header_size];
  boost::system::error_code ec;
  co_await asio::async_read(socket, asio::buffer(header),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec == asio::error::eof || ec == asio::error::connection_reset) co_return std::nullopt;
  if (ec) throw boost::system::system_error(ec);
  frame_header h = parse_frame_header(header);
  if (h.size > s.settings.max_message_size) fail("the " + peer + " sent an oversized answer");
  std::string payload(h.size, '\0');
  co_await asio::async_read(socket, asio::buffer(payload), asio::use_awaitable);
  if (h.kind == static_cast<std::uint8_t>(frame_kind::open_error))
    fail(decode<rpc_parallel::error>(payload, "join refusal").message);
  if (h.kind != static_cast<std::uint8_t>(frame_kind::join_config))
    fail("the " + peer + " answered the join with frame kind " + std::to_string(h.kind));
  co_return decode<worker_config>(payload, "join configuration");
}

constexpr int not_needed = -2;

// Steps 2 and 3 on each address in turn: the connected socket (its descriptor, released),
// `not_needed`, or -1 with what each address said added to `failures`.
int join_any(const rendezvous& r, const join_settings& s, clock::time_point end,
             worker_config& config, std::string& failures) {
  asio::io_context io(1);
  for (const auto& address : r.addresses) {
    stream_socket socket(io);
    std::optional<worker_config> got;
    std::exception_ptr failure;
    bool answered = false;
    asio::co_spawn(io, join_at(socket, address, r, s, end),
                   [&](std::exception_ptr e, std::optional<worker_config> c) {
                     failure = e;
                     answered = !e;
                     if (!e) got = std::move(c);
                   });
    io.run();
    io.restart();
    if (answered && !got) return not_needed;
    if (got) {
      config = std::move(*got);
      config.key = r.key;
      return socket.release();
    }
    error e = error_of(failure);
    if (e.message.find("refused " + s.who) != std::string::npos) throw rpc_error(e);
    failures += "\n  " + address + ": " + e.message;
  }
  return -1;
}

}  // namespace

int run_join_role(const type_registry& types, join_settings s) {
  install_death_notes();
  auto end = clock::now() + s.timeout;
  worker_config config;
  int link = -1;
  try {
    for (;;) {
      rendezvous r = find_master(s, end);
      std::string failures;
      link = join_any(r, s, end, config, failures);
      if (link == not_needed) {
        std::cerr << "rpc_parallel: " << s.who
                  << " was not needed: its master ended before it took this worker" << std::endl;
        return 0;
      }
      if (link >= 0) break;
      // A rendezvous file left by an earlier master of the same name is replaced when the new
      // one listens: read it again until the time is up.
      if (names_an_address(s.target) || clock::now() >= end)
        fail(s.who + " could not reach its master at any of its addresses:" + failures);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } catch (const std::exception& e) {
    std::cerr << "rpc_parallel: cannot join: " << e.what() << std::endl;
    return 2;
  }
  auto type = types.find(config.type);
  if (type == types.end()) {
    std::cerr << "rpc_parallel: cannot join: the master asked for worker type \"" << config.type
              << "\", which this binary does not register (app.add_worker)" << std::endl;
    return 2;
  }
  return serve_as_worker(
      types, *type->second, std::move(config), [] {}, link);
}

}  // namespace rpc_parallel::detail
