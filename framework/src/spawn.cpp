// The spawn handshake, master side (docs/protocol.md has the long form):
//   1. announce a fresh worker id to this process's master server (started on first use);
//   2. posix_spawn /proc/self/exe with the argv marker and the environment marker;
//   3. write the worker_config (secret, settings, spawn argument...) to its stdin and close it;
//   4. relay its stderr (and stdout when forwarded), each line prefixed `[HOST PID NAME]`: until
//      it is released, or for its whole life when its output goes to the spawner;
//   5. await whichever comes first: its registration, its exit, or connection_timeout;
//   6. await init_done on the registration link (the result of init_worker_state) and, for a
//      daemonised worker, the exit of its daemonising parent;
//   7. keep the link: it reports background failures, and its closing tells the worker that
//      this process is gone. Under connection_closed it also becomes the owner connection.
#include "rpc_parallel/detail/spawn.hpp"
#include "rpc_parallel/detail/log_lines.hpp"

#include "rpc_parallel/detail/activity.hpp"
#include "rpc_parallel/detail/client.hpp"
#include "rpc_parallel/detail/codec.hpp"
#include "rpc_parallel/detail/deadline.hpp"
#include "rpc_parallel/detail/death_report.hpp"
#include "rpc_parallel/detail/join_queue.hpp"
#include "rpc_parallel/detail/launcher.hpp"
#include "rpc_parallel/detail/master_server.hpp"
#include "rpc_parallel/detail/node.hpp"
#include "rpc_parallel/detail/output_relay.hpp"
#include "rpc_parallel/detail/process.hpp"
#include "rpc_parallel/detail/trace.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <iostream>

namespace rpc_parallel::detail {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// The spawn default: a remote worker's output comes back to us. A local one's stdout is
// discarded; its stderr comes back too, but only its tail is kept, unprinted, for the report of
// its death (`tail_only`), unless the app asked for JSON logs, which take every process's.
fd_redirection resolve(const fd_redirection& r, const launcher& via, bool is_stderr) {
  if (r.how() != fd_redirection::mode::automatic) return r;
  return via.forwards_output_by_default() || is_stderr ? fd_redirection::to_spawner()
                                                       : fd_redirection::dev_null();
}

bool tail_only(const spawn_options& options) {
  return !json_logs() && options.redirect_stderr.how() == fd_redirection::mode::automatic &&
         !launcher_of(options.how).forwards_output_by_default();
}

worker_config make_config(node& self, const spawn_request& r, const std::string& id,
                          const std::string& name, std::string master_host,
                          std::uint16_t master_port = 0) {
  worker_config c;
  c.type = r.type->name;
  c.id = id;
  c.name = name;
  c.master_host = std::move(master_host);
  c.master_port = master_port != 0 ? master_port : self.master_server().port();
  c.master_same_host = self.master_server().same_host_name();
  c.key = self.key();
  c.settings = self.settings();
  c.worker_command = self.config().worker_command;
  c.pass_name = self.config().pass_name;
  const launcher& via = launcher_of(r.options.how);
  c.daemonize = !r.foreground && !via.keeps_worker_in_foreground();
  c.cd = r.options.cd;
  c.umask = r.options.umask ? static_cast<std::int32_t>(*r.options.umask) : -1;
  // In the foreground, stdout and stderr are the worker_process's pipes whatever was asked.
  c.redirect_stdout =
      r.foreground ? fd_redirection::to_spawner() : resolve(r.options.redirect_stdout, via, false);
  c.redirect_stderr =
      r.foreground ? fd_redirection::to_spawner() : resolve(r.options.redirect_stderr, via, true);
  c.connection_timeout_ms = r.options.connection_timeout.count();
  c.policy = r.policy;
  c.spawn_arg = r.spawn_arg;
  c.leave_above_rss = r.options.leave_above_rss;
  return c;
}

std::vector<std::string> worker_argv(node& self, const std::string& name) {
  std::vector<std::string> argv{program_invocation_name};
  for (auto& arg : self.config().worker_command) argv.push_back(arg);
  if (self.config().pass_name) {
    argv.push_back(child_of_decoration());
    argv.push_back(name);
  }
  return argv;
}

asio::awaitable<void> send_config(asio::writable_pipe stdin_pipe, std::string bytes) {
  std::string message(4, '\0');
  auto size = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(message.data(), &size, 4);
  message += bytes;
  boost::system::error_code ec;  // a worker that died early shows up in the next steps
  co_await asio::async_write(stdin_pipe, asio::buffer(message),
                             asio::redirect_error(asio::use_awaitable, ec));
}

// What is left to read in a pipe whose writers have exited (non-blocking), last 2 KiB.
std::string drain_tail(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > 2048) text.erase(0, text.size() - 2048);
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

asio::awaitable<void> reap(pid_t pid) { (void)co_await wait_exit(pid); }

// Kills a launched child that will not be used and reaps it, so nothing is left behind.
asio::awaitable<void> kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  co_await wait_exit(pid);
}

error startup_failure(std::string what, const std::shared_ptr<output_relay>& relay) {
  std::string tail = relay ? relay->tail() : std::string();
  if (!tail.empty()) what += "; its last stderr lines:\n" + tail;
  return {error_kind::failed, what};
}

struct started {
  master_server::registered registered;
  bool parent_pending = false;  ///< A daemonising parent is still to exit and be reaped.
};

asio::awaitable<started> await_start(node& self, const spawn_request& r, const std::string& id,
                                     pid_t pid, bool parent_stays,
                                     std::shared_ptr<output_relay> relay) {
  auto& server = self.master_server();
  auto limit = r.options.connection_timeout;
  if (r.options.spawn_timeout.count() > 0) limit = std::min(limit, r.options.spawn_timeout);
  asio::steady_timer timer(self.executor(), limit);
  auto first = co_await (capture(server.await_registration(id)) || wait_exit(pid) ||
                         timer.async_wait(asio::use_awaitable));
  if (first.index() == 2) {
    co_await kill_and_reap(pid);
    throw rpc_error({error_kind::timed_out,
                     "the worker did not register within " + std::to_string(limit.count()) +
                         " ms (connection_timeout, or spawn_timeout if shorter); raise it if the "
                         "machine is loaded"});
  }
  if (first.index() == 1) {
    int status = std::get<1>(first);
    if (r.foreground || parent_stays || status != 0) {
      if (relay) co_await relay->finished();
      std::string tail = relay ? relay->tail() : std::string();
      std::string why = co_await launcher_of(r.options.how).explain_failed_start(std::move(tail));
      throw rpc_error(startup_failure("the worker process " + describe_status(status) +
                                          " before it registered" + (why.empty() ? "" : ": ") + why,
                                      relay));
    }
    // The daemonising parent exited cleanly once the worker was released: the registration
    // frame is already on its way, unless what exited was a wrapper that never ran the worker.
    auto registered = co_await capture(
        with_deadline(server.await_registration(id), r.options.connection_timeout, "registration"));
    if (registered.failure) {
      if (error_of(registered.failure).kind != error_kind::timed_out)
        std::rethrow_exception(registered.failure);
      throw rpc_error(startup_failure(
          "the worker process exited with status 0 but no worker registered within " +
              std::to_string(r.options.connection_timeout.count()) +
              " ms: a wrapper (how_to_run::wrap) that exits 0 without running its command, or "
              "one that forks it and does not wait, does this",
          relay));
    }
    co_return started{std::move(*registered.value), false};
  }
  auto& registration = std::get<0>(first);
  if (registration.failure) {
    co_await kill_and_reap(pid);
    std::rethrow_exception(registration.failure);
  }
  co_return started{std::move(*registration.value), !r.foreground && !parent_stays};
}

// The daemonising parent exits as soon as the worker is released, right after registering.
asio::awaitable<void> await_released(node& self, const spawn_request& r, pid_t pid,
                                     std::shared_ptr<output_relay> relay) {
  asio::steady_timer released(self.executor(), r.options.connection_timeout);
  auto exited = co_await (wait_exit(pid) || released.async_wait(asio::use_awaitable));
  if (exited.index() == 1) {
    co_await kill_and_reap(pid);
    throw rpc_error({error_kind::timed_out,
                     "the worker registered but was not released within "
                     "connection_timeout"});
  }
  int status = std::get<0>(exited);
  if (status != 0)
    throw rpc_error(
        startup_failure("the daemonising worker process " + describe_status(status), relay));
}

asio::awaitable<void> await_init(const master_server::registered& reg,
                                 std::chrono::steady_clock::time_point deadline) {
  std::optional<frame> done;
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    done = co_await reg.link->read();
  } else {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto read = co_await capture(
        with_deadline(reg.link->read(), std::max(left, std::chrono::milliseconds(0)), "init"));
    if (read.failure) {
      if (error_of(read.failure).kind != error_kind::timed_out)
        std::rethrow_exception(read.failure);
      throw rpc_error({error_kind::timed_out,
                       "init_worker_state did not finish within spawn_timeout; the worker was "
                       "stopped (raise spawn_options::spawn_timeout if it needs longer)"});
    }
    done = std::move(*read.value);
  }
  if (!done)
    throw rpc_error({error_kind::disconnected,
                     "the worker exited during init_worker_state; to see why, spawn it with "
                     "spawn_options().with_redirect_stderr(fd_redirection::file_append(path))"});
  if (done->kind != frame_kind::init_done)
    throw rpc_error({error_kind::failed, "protocol error: the worker sent frame kind " +
                                             std::to_string(static_cast<int>(done->kind)) +
                                             " instead of init_done"});
  if (!done->payload.empty())
    throw rpc_error(with_context(decode<error>(done->payload, "init error"), "init_worker_state"));
}

// Steps 5 and 6: the registration of a worker whose init_worker_state succeeded. On failure
// no child of ours is left unreaped. `parent_stays`: the launched process lives as long as the
// worker (ssh carrying its output), so it is not awaited here. `on_registered` learns the pid.
asio::awaitable<master_server::registered> start_and_init(
    node& self, const spawn_request& r, std::string id, pid_t pid, bool parent_stays,
    std::shared_ptr<output_relay> relay,
    std::function<void(const master_server::registered&)> on_registered,
    std::chrono::steady_clock::time_point deadline) {
  started start = co_await await_start(self, r, id, pid, parent_stays, relay);
  on_registered(start.registered);
  // A worker past spawn_timeout is stopped: on this host at once, elsewhere by its link's end
  // (it has not been told `spawned`), when `start` goes.
  auto stop_if_late = [&](const std::exception_ptr& failure) {
    if (failure && error_of(failure).kind == error_kind::timed_out &&
        &launcher_of(r.options.how) == &local_launcher())
      ::kill(static_cast<pid_t>(start.registered.registration.pid), SIGKILL);
  };
  if (start.parent_pending) {
    // Initialisation and the daemonising parent's exit overlap: both follow the release.
    auto both = co_await (capture(await_init(start.registered, deadline)) &&
                          capture(await_released(self, r, pid, relay)));
    stop_if_late(std::get<0>(both).failure);
    if (auto failure =
            std::get<1>(both).failure ? std::get<1>(both).failure : std::get<0>(both).failure)
      std::rethrow_exception(failure);
  } else {
    auto init = co_await capture(await_init(start.registered, deadline));
    if (init.failure) {
      stop_if_late(init.failure);
      // A worker whose init failed exits once it has reported and this end hung up (so that
      // its exit never overtakes its registration): reap a foreground one.
      start.registered.link->close();
      if (r.foreground) co_await wait_exit(pid);
      std::rethrow_exception(init.failure);
    }
  }
  co_return start.registered;
}

std::function<void(error)> failure_handler(const spawn_options& options) {
  if (options.on_failure) return options.on_failure;
  return print_failure;
}

// Steps 2-4: the process, its configuration on stdin, and the relays of its output.
struct started_process {
  launched child;
  std::string host;
  std::shared_ptr<output_relay> relay, stdout_relay;
  bool parent_stays = false;  ///< The launched process carries forwarded output: reap it later.
};

asio::awaitable<started_process> start_process(node& self, const spawn_request& r,
                                               const std::string& id, const std::string& name) {
  const launcher& via = launcher_of(r.options.how);
  auto forwarded = [&r, &via](const fd_redirection& f, bool is_stderr) {
    return !r.foreground && resolve(f, via, is_stderr).how() == fd_redirection::mode::to_spawner;
  };
  started_process p;
  bool pipe_stdout = r.foreground || forwarded(r.options.redirect_stdout, false);
  p.parent_stays = via.keeps_worker_in_foreground() ||
                   (via.carries_output() && (forwarded(r.options.redirect_stdout, false) ||
                                             forwarded(r.options.redirect_stderr, true)));
  prepared_launch prepared = co_await via.prepare(self.master_server().port(), p.parent_stays);
  worker_config config =
      make_config(self, r, id, name, prepared.master_address, prepared.master_port);
  p.child =
      via.launch({worker_argv(self, name), r.options.env, r.options.how.wrapper(), pipe_stdout},
                 std::move(prepared));
  std::string config_bytes;
  encode(config, config_bytes);
  asio::co_spawn(
      self.executor(),
      send_config(asio::writable_pipe(self.executor(), p.child.stdin_fd), std::move(config_bytes)),
      asio::detached);
  p.host = via.host();
  if (!r.foreground) {
    log_source unnamed{p.host, 0, name};  // until it registers with its pid
    p.relay =
        output_relay::start(self.executor(), p.child.stderr_fd, std::cerr, unnamed, json_logs());
    if (pipe_stdout)
      p.stdout_relay = output_relay::start(self.executor(), p.child.stdout_fd, std::cout, unnamed);
  }
  co_return p;
}

// With tracing on: the spawn, from its start until the worker answered or the spawn failed.
void trace_spawn(const std::string& name, const std::string& type, const std::string& where,
                 std::chrono::steady_clock::time_point started, std::string outcome,
                 std::int64_t pid) {
  if (!tracer::on()) return;
  tracer::args details{{"type", type}, {"where", where}, {"outcome", std::move(outcome)}};
  if (pid > 0) details.emplace_back("pid", std::to_string(pid));
  tracer::of_this_process().record("spawn", "spawn " + name, started,
                                   std::chrono::steady_clock::now(), std::move(details));
}

}  // namespace

void print_failure(const error& e) { say(log_level::error, "[rpc_parallel] ", e.message); }

namespace {

// A registered, initialised worker, and what its start leaves for the rest of the spawn.
struct worker_start {
  master_server::registered registered;
  std::optional<worker_process> process;  ///< In the foreground.
  std::shared_ptr<output_relay> relay;    ///< Its stderr, when it comes back to us.
};

// Steps 2-6 for a process we launch.
asio::awaitable<worker_start> start_launched(node& self, const spawn_request& r,
                                             const std::string& id, const std::string& name,
                                             std::chrono::steady_clock::time_point deadline) {
  started_process p = co_await start_process(self, r, id, name);
  auto name_output = [&](const master_server::registered& reg) {
    log_source who{p.host, static_cast<std::int64_t>(reg.registration.pid), name};
    if (p.relay) p.relay->name(who);
    if (p.stdout_relay) p.stdout_relay->name(who);
  };
  auto reg = co_await capture(
      start_and_init(self, r, id, p.child.pid, p.parent_stays, p.relay, name_output, deadline));
  if (reg.failure) {
    if (!r.foreground) std::rethrow_exception(reg.failure);
    // The foreground child has exited: what it wrote to stderr explains why.
    error e = error_of(reg.failure);
    std::string tail = drain_tail(p.child.stderr_fd);
    ::close(p.child.stdout_fd);
    ::close(p.child.stderr_fd);
    if (!tail.empty()) e.message += "; its stderr ended with:\n" + tail;
    throw rpc_error(e);
  }
  worker_start started{std::move(*reg.value), std::nullopt, p.relay};
  if (r.foreground)
    started.process.emplace(self.executor(), p.child.pid, p.child.stdout_fd, p.child.stderr_fd);
  // The ssh or srun child ends with the worker: reap it then.
  if (p.parent_stays) asio::co_spawn(self.executor(), reap(p.child.pid), asio::detached);
  co_return started;
}

// Instead of steps 2-6, a worker that joined by itself: the next one `queue` has is told its
// configuration on its link (its own secret stays with it: the link is not encrypted), then
// registers on that link and initialises as any worker. Its output stays where its starter
// put it.
asio::awaitable<worker_start> start_joined(node& self, const spawn_request& r,
                                           const std::string& id, const std::string& name,
                                           join_queue& queue,
                                           std::chrono::steady_clock::time_point deadline) {
  joiner j;
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    j = co_await queue.take(r.type->name);
  } else {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    j = co_await with_deadline(queue.take(r.type->name),
                               std::max(left, std::chrono::milliseconds(0)), "a worker to join");
  }
  worker_config config = make_config(self, r, id, name, std::string());
  config.key = {};
  config.redirect_stdout = fd_redirection::to_spawner();
  config.redirect_stderr = fd_redirection::to_spawner();
  std::string bytes;
  encode(config, bytes);
  j.link->send(frame_kind::join_config, 0, bytes);
  std::string who = "the worker that joined from " + j.host + " (" + j.request.host + " pid " +
                    std::to_string(j.request.pid) + ")";
  std::string what = "registration of " + who;
  auto first =
      co_await with_deadline(j.link->read(), r.options.connection_timeout, std::move(what));
  if (!first || first->kind != frame_kind::registration)
    throw rpc_error({error_kind::disconnected, who + " left before it registered"});
  master_server::registered registered{j.link, j.host,
                                       decode<registration>(first->payload, "registration")};
  co_await await_init(registered, deadline);
  co_return worker_start{std::move(registered), std::nullopt, nullptr};
}

}  // namespace

asio::awaitable<spawn_result> spawn_worker(std::shared_ptr<const spawn_request> request) {
  const spawn_request& r = *request;
  node& self = node::current();
  std::string name = r.options.name.empty() ? r.type->name : r.options.name;
  const launcher& via = launcher_of(r.options.how);
  std::string context =
      "spawn worker \"" + name + "\" of type \"" + r.type->name + "\" on " + via.where();
  std::string id = make_worker_id();
  auto record = std::make_shared<worker_record>();
  record->id = id;
  record->name = name;
  record->local = &via == &local_launcher();
  record->via = r.options.how.launcher();
  record->started = std::chrono::steady_clock::now();
  record->oom_kills_at_start = record->local ? oom_kill_count() : 0;
  auto spawn_deadline = r.options.spawn_timeout.count() > 0
                            ? record->started + r.options.spawn_timeout
                            : std::chrono::steady_clock::time_point::max();
  try {
    self.type(r.type->name);  // a type missing from the app fails here, before any process
    self.master_server().expect(id);
    std::optional<worker_start> started;
    if (join_queue* queue = via.joins()) {
      worker_start joined = co_await start_joined(self, r, id, name, *queue, spawn_deadline);
      started.emplace(std::move(joined));
    } else {
      worker_start launched = co_await start_launched(self, r, id, name, spawn_deadline);
      started.emplace(std::move(launched));
    }
    master_server::registered& reg = started->registered;
    self.master_server().forget(id);
    std::pair<std::string, std::uint16_t> reach =
        co_await via.reach_worker(reg.host, reg.registration.port);
    worker_ref worker{reach.first,  reach.second, id,
                      r.type->name, name,         reg.registration.same_host};
    record->pid = static_cast<pid_t>(reg.registration.pid);
    activity::of_this_process().spawned({id, name, r.type->name, via.host(), reach.first,
                                         reach.second, reg.registration.pid, record->started},
                                        reg.link->watch());
    trace_spawn(name, r.type->name, via.where(), record->started, "ok", reg.registration.pid);
    record->kill_unheeded_after = r.options.kill_unheeded_after;
    if (record->local) {
      record->memory = memory_cgroup::of(record->pid);
      if (record->memory) record->cgroup_oom_kills_at_start = record->memory->oom_kills();
      record->kill = [pid = record->pid] { ::kill(pid, SIGKILL); };
    } else {
      // Its guardian exits when the link to its master closes, whatever its user code does.
      record->kill = [link = std::weak_ptr<transport>(reg.link)] {
        if (auto l = link.lock()) l->close();
      };
    }
    if (!r.foreground) {
      record->stderr_tail = started->relay;
      if (started->relay && tail_only(r.options)) started->relay->mute();
      self.remember(id, record);
    }
    if (r.policy == shutdown_policy::connection_closed)
      co_return spawn_result{std::move(worker), std::move(started->process), std::move(reg.link)};
    reg.link->send(frame_kind::spawned, 0, {});
    self.master_server().watch(reg.link, name, failure_handler(r.options),
                               r.foreground ? nullptr : record);
    co_return spawn_result{std::move(worker), std::move(started->process), nullptr};
  } catch (...) {
    self.master_server().abandon(id);
    error e = with_context(current_exception_error(), context);
    trace_spawn(name, r.type->name, via.where(), record->started, e.message, 0);
    throw rpc_error(std::move(e));
  }
}

asio::awaitable<connected_spawn> spawn_connected_worker(
    std::shared_ptr<const spawn_request> request, std::string connection_arg) {
  auto spawned = co_await spawn_worker(request);
  // The registration link becomes the owner connection: no second TCP handshake.
  auto opened = co_await capture(client::open_over(spawned.link, spawned.worker, request->type,
                                                   std::move(connection_arg),
                                                   failure_handler(request->options)));
  if (!opened.failure)
    co_return connected_spawn{std::move(*opened.value), std::move(spawned.process)};
  // The worker is up but unusable: stop it now rather than when its connection_timeout passes.
  co_await capture(shutdown_worker(spawned.worker));
  if (spawned.process) co_await spawned.process->wait();
  throw rpc_error(with_context(error_of(opened.failure),
                               "spawn " + describe(spawned.worker) + ": first connection"));
}

}  // namespace rpc_parallel::detail
