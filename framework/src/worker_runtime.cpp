#include "rpc_parallel/detail/worker_runtime.hpp"
#include "rpc_parallel/detail/log_lines.hpp"

#include "rpc_parallel/detail/auth.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/death_note.hpp"
#include "rpc_parallel/detail/guardian.hpp"
#include "rpc_parallel/detail/trace.hpp"
#include "rpc_parallel/detail/transport.hpp"
#include "rpc_parallel/detail/worker_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <iostream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class worker_runtime {
 public:
  worker_runtime(asio::io_context& io, node& self, const worker_type_entry& type,
                 worker_config config, std::function<void()> release, int joined_link)
      : io_(io),
        node_(self),
        type_(type),
        config_(std::move(config)),
        release_(std::move(release)),
        joined_link_(joined_link) {
    set_log_identity(config_.name);
    tracer::of_this_process().name_this_process(config_.name, type_.name);
  }

  int exit_code() const { return exit_code_; }
  void fail() { exit(1); }

  asio::awaitable<void> start() {
    // What the worker logs until it serves is kept for its log's later subscribers.
    node_.logs().keep_messages(true);
    auto server = worker_server::bind(node_, type_, config_.id, config_.name);
    server_ = server;
    link_ = co_await register_with_master(*server);
    release_();
    std::shared_ptr<void> state;
    error failure;
    try {
      state = co_await type_.init_worker_state(std::move(config_.spawn_arg));
    } catch (...) {
      failure = current_exception_error();
    }
    if (!state) {
      std::string payload;
      encode(failure, payload);
      link_->send(frame_kind::init_done, 0, payload);
      co_await link_->flush();
      // Exits once the master has read the report and hung up. Exiting at once raced with the
      // master's reading of the registration: a master that saw this process end first
      // reported the exit ("exited with status 1 before it registered"), not the error.
      // Bounded, should it never hang up.
      co_await capture(
          with_deadline(link_->read(), config_.settings.handshake_timeout, "the master's hang-up"));
      exit(1);
      co_return;
    }
    node_.logs().keep_messages(false);
    server->start(std::move(state), hooks());
    asio::co_spawn(io_, leave_on_sigterm(), asio::detached);
    link_->send(frame_kind::init_done, 0, {});
    if (config_.policy == shutdown_policy::connection_closed) {
      // The link goes on as the spawner's owner connection (its first frame is `open`); its
      // end is both the owner closing and the master going away.
      server->adopt(link_);
      asio::co_spawn(io_, expect_owner(), asio::detached);
      co_return;
    }
    co_await watch_master();
  }

 private:
  asio::awaitable<std::shared_ptr<transport>> register_with_master(const worker_server& server) {
    auto settings = config_.settings;
    if (joined_link_ >= 0) co_return register_on_joined_link(server);
    stream_socket socket = co_await dial_master();
    std::string peer =
        "master at " + config_.master_host + ":" + std::to_string(config_.master_port);
    configure_socket(socket, settings);
    std::string frame = begin_frame();
    encode(registration_of(server), frame);
    finish_frame(frame, frame_kind::registration, 0);
    co_await authenticate_client(socket, config_.key, settings.handshake_timeout, peer,
                                 std::move(frame));
    auto link = std::make_shared<transport>(std::move(socket), settings, peer);
    // The link's end is the master's death (or, under connection_closed, the owner closing):
    // the guardian ends the worker then even while user code holds the user thread. Only a
    // confirmed called_shutdown_function worker outlives it (watch_master).
    node_.guardian().watch(link->watch(), config_.policy != shutdown_policy::called_shutdown);
    co_return link;
  }

  // The master's same-host socket when it is on this host, TCP otherwise.
  asio::awaitable<stream_socket> dial_master() {
    std::string peer =
        "master at " + config_.master_host + ":" + std::to_string(config_.master_port);
    if (config_.settings.same_host_sockets && reachable_here(config_.master_same_host)) {
      auto connect = connect_same_host(config_.master_same_host, "the " + peer);
      stream_socket local = co_await with_deadline(
          std::move(connect), std::chrono::milliseconds(config_.connection_timeout_ms),
          "connecting to the master");
      co_return local;
    }
    tcp::socket socket(io_);
    tcp::endpoint master(asio::ip::make_address(config_.master_host), config_.master_port);
    try {
      co_await with_deadline(socket.async_connect(master, asio::use_awaitable),
                             std::chrono::milliseconds(config_.connection_timeout_ms),
                             "connecting to the master");
    } catch (...) {
      throw rpc_error({error_kind::disconnected,
                       "cannot reach the " + peer + " (" + current_exception_error().message +
                           "); a worker dials the address its spawner's host has on the route to "
                           "it: set ssh_options::dial_back_address when that is not reachable, or "
                           "ssh_options::with_tunnel() when nothing on its host may dial out"});
    }
    co_return stream_socket(std::move(socket));
  }

  registration registration_of(const worker_server& server) const {
    return {config_.id, server.port(), static_cast<std::int64_t>(::getpid()),
            server.same_host_name(), config_.master_host};
  }

  // The link a joined worker came in on: authenticated already, so the registration is a plain
  // frame on it.
  std::shared_ptr<transport> register_on_joined_link(const worker_server& server) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(joined_link_, reinterpret_cast<sockaddr*>(&address), &length);
    tcp::socket tcp_socket(io_, address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(),
                           joined_link_);
    joined_link_ = -1;
    boost::system::error_code ec;
    auto master = tcp_socket.remote_endpoint(ec);
    stream_socket socket(std::move(tcp_socket));
    configure_socket(socket, config_.settings);
    std::string peer =
        "master at " + (ec ? std::string("?")
                           : master.address().to_string() + ":" + std::to_string(master.port()));
    auto link = std::make_shared<transport>(std::move(socket), config_.settings, peer);
    std::string payload;
    encode(registration_of(server), payload);
    link->send(frame_kind::registration, 0, payload);
    node_.guardian().watch(link->watch(), config_.policy != shutdown_policy::called_shutdown);
    return link;
  }

  worker_server::hooks hooks() {
    worker_server::hooks h;
    h.on_owner_closed = [this] { exit(0); };
    h.on_shutdown = [this] { exit(0); };
    h.before_call = [this] {
      if (left_) return;
      if (leave_requested()) leave_now(sigterm_reason());
      if (config_.leave_above_rss > 0) leave_if_too_big();
    };
    h.on_background_failure = [this](error e) {
      say(log_level::error,
          "rpc_parallel worker \"" + config_.name + "\": ", e.message + "; shutting down");
      asio::co_spawn(io_, report_failure(std::move(e)), asio::detached);
    };
    return h;
  }

  // The first SIGTERM (when nothing else handles it) makes the worker leave gracefully: its
  // clients are told, send nothing more and close once answered, and it then exits. Told here
  // when the thread is free, or before the next call starts (`before_call`), whichever first.
  asio::awaitable<void> leave_on_sigterm() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) co_return;
    asio::posix::stream_descriptor reader(io_, fds[0]);
    leave_on_first_sigterm(fds[1]);  // the write end stays open for the process's life
    std::int64_t sender = 0;
    boost::system::error_code ec;
    co_await asio::async_read(reader, asio::buffer(&sender, sizeof sender),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) leave_now(sigterm_reason());
  }

  static std::string sigterm_reason() {
    std::int64_t sender = leave_sender();
    std::string why = "it got SIGTERM";
    if (sender > 0) {
      std::string comm;
      std::ifstream(std::string("/proc/") + std::to_string(sender) + "/comm") >> comm;
      why += " from process " + std::to_string(sender) + (comm.empty() ? "" : " (" + comm + ")");
    }
    return why;
  }

  // spawn_options::leave_above_rss: a look at /proc/self/statm (a few microseconds).
  void leave_if_too_big() {
    std::uint64_t pages_total = 0, pages_resident = 0;
    std::ifstream("/proc/self/statm") >> pages_total >> pages_resident;
    std::uint64_t rss = pages_resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    if (rss <= config_.leave_above_rss) return;
    constexpr double mib = 1024.0 * 1024.0;
    char text[160];
    std::snprintf(text, sizeof text,
                  "its resident memory, %.1f MiB, passed its limit of %.1f MiB "
                  "(spawn_options::leave_above_rss)",
                  static_cast<double>(rss) / mib,
                  static_cast<double>(config_.leave_above_rss) / mib);
    leave_now(text);
  }

  void leave_now(std::string why) {
    auto server = server_.lock();
    if (left_ || !server) return;
    left_ = true;
    say(log_level::info, "rpc_parallel worker \"" + config_.name + "\": ",
        "leaving (" + why + "): answering the calls it has first");
    server->leave(std::move(why), [this] { exit(0); });
  }

  asio::awaitable<void> report_failure(error e) {
    std::string payload;
    encode(e, payload);
    try {
      link_->send(frame_kind::failure, 0, payload);
      co_await link_->flush();
    } catch (const std::exception&) {
    }
    exit(1);
  }

  // The link to the master is the heartbeat: its end means the master is gone. A shutdown
  // frame on it (a registration that came too late) ends the worker whatever its policy, and so
  // does losing the link before the spawner confirmed the spawn: a worker whose spawn failed
  // must not live on, even one meant to outlive its master.
  asio::awaitable<void> watch_master() {
    bool confirmed = false;
    try {
      while (auto f = co_await link_->read()) {
        if (f->kind == frame_kind::spawned) confirmed = true;
        if (f->kind == frame_kind::shutdown) {
          exit(0);
          co_return;
        }
      }
    } catch (const std::exception&) {
    }
    if (!confirmed || config_.policy != shutdown_policy::called_shutdown) exit(0);
  }

  asio::awaitable<void> expect_owner() {
    asio::steady_timer timer(io_, std::chrono::milliseconds(config_.connection_timeout_ms));
    co_await timer.async_wait(asio::use_awaitable);
    if (auto server = server_.lock(); server && !server->owner_has_connected()) {
      say(log_level::info, "rpc_parallel worker \"" + config_.name + "\": ",
          "no client connected within connection_timeout; shutting down");
      exit(0);
    }
  }

  void exit(int code) {
    exit_code_ = code;
    if (exiting_) return;
    exiting_ = true;
    // Spans that no reply carried yet (one-way calls, streams) go out on the link first.
    if (!tracer::on() || !link_ || !link_->is_open()) {
      io_.stop();
      return;
    }
    send_pending_trace(*link_);
    asio::co_spawn(io_, flush_then_stop(), asio::detached);
  }

  asio::awaitable<void> flush_then_stop() {
    try {
      co_await with_deadline(link_->flush(), config_.settings.handshake_timeout,
                             "the trace's last spans");
    } catch (const std::exception&) {
      // The master is gone or does not read: it has the rest of the trace.
    }
    io_.stop();
  }

  asio::io_context& io_;
  node& node_;
  const worker_type_entry& type_;
  worker_config config_;
  std::function<void()> release_;
  std::weak_ptr<worker_server> server_;
  std::shared_ptr<transport> link_;
  int joined_link_ = -1;
  bool left_ = false;
  bool exiting_ = false;
  int exit_code_ = 0;
};

}  // namespace

int serve_as_worker(const type_registry& types, const worker_type_entry& type, worker_config config,
                    std::function<void()> release, int joined_link) {
  asio::io_context io(1);
  node self(io.get_executor(), node_config{config.key, config.settings, config.worker_command,
                                           config.pass_name, types, /*serves_as_worker=*/true});
  // Only a spawner that keeps the tail of our stderr reads the clean-exit line.
  bool announce_exit =
      config.daemonize && config.redirect_stderr.how() == fd_redirection::mode::to_spawner;
  worker_runtime runtime(io, self, type, std::move(config), std::move(release), joined_link);
  asio::co_spawn(io, runtime.start(), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      say(log_level::error, "rpc_parallel worker: ", ex.what());
    }
    runtime.fail();
  });
  io.run();
  int code = runtime.exit_code();
  std::fflush(stdout);
  expect_clean_exit("status " + std::to_string(code), announce_exit);
  // Skip destructors: open connections and coroutine frames die with the process.
  ::_exit(code);
}

}  // namespace rpc_parallel::detail
