// The handshake, before any frame:
//   1. server -> client: "RPCP", u32 protocol version, 32-byte server nonce;
//   2. client -> server: 32-byte client nonce, HMAC(secret, LABEL | server nonce | client nonce),
//   where LABEL says what the connection is for: "rpcp-client" (frames) or "rpcp-cancel" (one
//   cancel for the guardian);
//   3. server checks the MAC in constant time; on mismatch it closes without a word;
//   4. server -> client: HMAC(secret, "rpcp-server" | client nonce | server nonce); the client
//   checks it.
// The client's first bytes travel in the same write as step 2, saving a round trip; the client
// acts on nothing the server sends before step 4 has proved the server.
// Fixed sizes only: nothing is allocated or deserialised for an unauthenticated peer.
// The MAC, the constant-time compare and the randomness come from libsodium: OpenSSL 3 would do
// as well but costs a fresh worker ~1.5 ms to load its providers before the first MAC.
#include "rpc_parallel/detail/auth.hpp"

#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/metrics.hpp"
#include "rpc_parallel/error.hpp"

#include <sodium.h>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

#include <cstring>
#include <optional>

namespace rpc_parallel::detail {
namespace {

namespace asio = boost::asio;
using nonce = std::array<unsigned char, 32>;
using mac = std::array<unsigned char, 32>;
constexpr char magic[4] = {'R', 'P', 'C', 'P'};
constexpr std::uint32_t protocol_version = 1;

mac compute_mac(const secret& key, std::string_view label, const nonce& first,
                const nonce& second) {
  unsigned char message[11 + 64];
  std::memcpy(message, label.data(), 11);
  std::memcpy(message + 11, first.data(), 32);
  std::memcpy(message + 43, second.data(), 32);
  static_assert(crypto_auth_hmacsha256_KEYBYTES == sizeof(secret));
  mac out;
  crypto_auth_hmacsha256(out.data(), message, sizeof message, key.data());
  return out;
}

nonce make_nonce() {
  nonce n;
  random_bytes(n.data(), n.size());
  return n;
}

const char* label_of(connection_purpose purpose) {
  switch (purpose) {
    case connection_purpose::cancel:
      return "rpcp-cancel";
    case connection_purpose::inspect:
      return "rpcp-inspect";
    case connection_purpose::serve:
      break;
  }
  return "rpcp-client";
}

asio::awaitable<connection_purpose> server_steps(stream_socket& socket, const secret& key) {
  nonce server_nonce = make_nonce();
  unsigned char hello[40];
  std::memcpy(hello, magic, 4);
  std::memcpy(hello + 4, &protocol_version, 4);
  std::memcpy(hello + 8, server_nonce.data(), 32);
  co_await asio::async_write(socket, asio::buffer(hello), asio::use_awaitable);

  unsigned char answer[64];
  co_await asio::async_read(socket, asio::buffer(answer), asio::use_awaitable);
  nonce client_nonce;
  std::memcpy(client_nonce.data(), answer, 32);
  std::optional<connection_purpose> purpose;
  for (auto candidate :
       {connection_purpose::serve, connection_purpose::cancel, connection_purpose::inspect}) {
    mac expected = compute_mac(key, label_of(candidate), server_nonce, client_nonce);
    if (sodium_memcmp(expected.data(), answer + 32, 32) == 0) purpose = candidate;
  }
  if (!purpose) throw rpc_error({error_kind::failed, "peer failed authentication (wrong secret)"});
  mac proof = compute_mac(key, "rpcp-server", client_nonce, server_nonce);
  co_await asio::async_write(socket, asio::buffer(proof), asio::use_awaitable);
  co_return *purpose;
}

asio::awaitable<void> client_steps(stream_socket& socket, const secret& key, std::string peer,
                                   std::string first_bytes, connection_purpose purpose) {
  unsigned char hello[40];
  co_await asio::async_read(socket, asio::buffer(hello), asio::use_awaitable);
  std::uint32_t version = 0;
  std::memcpy(&version, hello + 4, 4);
  if (std::memcmp(hello, magic, 4) != 0 || version != protocol_version)
    throw rpc_error({error_kind::unimplemented,
                     peer + " does not speak rpc_parallel protocol version 1: is the address right "
                            "and is the same binary deployed there?"});
  nonce server_nonce;
  std::memcpy(server_nonce.data(), hello + 8, 32);
  nonce client_nonce = make_nonce();
  mac proof = compute_mac(key, label_of(purpose), server_nonce, client_nonce);
  std::string answer(reinterpret_cast<const char*>(client_nonce.data()), 32);
  answer.append(reinterpret_cast<const char*>(proof.data()), 32);
  answer += first_bytes;
  co_await asio::async_write(socket, asio::buffer(answer), asio::use_awaitable);
  // A served connection's first frames ride with the handshake; the peer's transport reads them.
  if (purpose == connection_purpose::serve && metrics::on())
    metrics::of_this_process().sent(first_bytes.size());

  mac server_proof;
  boost::system::error_code ec;
  co_await asio::async_read(socket, asio::buffer(server_proof),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec == asio::error::eof)
    throw rpc_error({error_kind::failed,
                     peer + " refused our credentials: it belongs to another application (each "
                            "root master makes its own secret); connect only to workers spawned "
                            "from the same root master"});
  if (ec)
    throw rpc_error(
        {error_kind::disconnected, "authentication handshake with " + peer + ": " + ec.message()});
  mac expected = compute_mac(key, "rpcp-server", client_nonce, server_nonce);
  if (sodium_memcmp(expected.data(), server_proof.data(), 32) != 0)
    throw rpc_error(
        {error_kind::failed, peer + " failed to prove it holds the application secret"});
}

}  // namespace

void random_bytes(unsigned char* out, std::size_t size) {
  static const int ready = sodium_init();  // 0 first time, 1 if already done, -1 on failure
  if (ready < 0)
    throw rpc_error({error_kind::failed, "libsodium failed to initialise (no entropy source)"});
  randombytes_buf(out, size);
}

secret make_secret() { return make_nonce(); }

asio::awaitable<connection_purpose> authenticate_server(stream_socket& socket, const secret& key,
                                                        std::chrono::milliseconds timeout) {
  connection_purpose purpose =
      co_await with_deadline(server_steps(socket, key), timeout, "authentication handshake");
  co_return purpose;
}

asio::awaitable<void> authenticate_client(stream_socket& socket, const secret& key,
                                          std::chrono::milliseconds timeout, std::string peer,
                                          std::string first_bytes, connection_purpose purpose) {
  try {
    co_await with_deadline(client_steps(socket, key, peer, std::move(first_bytes), purpose),
                           timeout, "authentication handshake with " + peer);
  } catch (const boost::system::system_error& e) {
    throw rpc_error({error_kind::disconnected,
                     "authentication handshake with " + peer + ": " + e.code().message()});
  }
}

}  // namespace rpc_parallel::detail
