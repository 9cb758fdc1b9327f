// What this process is doing now, kept where its guardian thread can read it (inspection.hpp)
// whatever the user thread is doing: the calls it serves, the workers it spawned and the
// map-reduce jobs it runs.
#pragma once

#include "rpc_parallel/map_progress.hpp"

#include <sys/types.h>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace rpc_parallel::detail {

class socket_watch;

/// One per process (`of_this_process`). Written on the user thread at each event, read on the
/// guardian thread when someone asks (`--rpc-status`); every member is thread-safe.
class activity {
 public:
  using clock = std::chrono::steady_clock;

  static activity& of_this_process() noexcept;

  /// On the user thread, around one call this process serves: from its start until it has
  /// answered. `type` and `function` must outlive it (they are the worker type's names).
  class served_call {
   public:
    served_call(std::string_view type, std::string_view function, bool holds_thread) noexcept;
    ~served_call();
    served_call(const served_call&) = delete;
    served_call& operator=(const served_call&) = delete;

   private:
    friend class activity;
    std::string_view type_;
    std::string_view function_;
    bool holds_thread_;
    clock::time_point since_;
    served_call* previous_ = nullptr;
    served_call* next_ = nullptr;
  };

  struct call_view {
    std::string function;       ///< "type.function"
    bool holds_thread = false;  ///< A plain implementation: the user thread runs it now.
    clock::duration age{};
  };
  /// The calls being served now, oldest first.
  std::vector<call_view> served_calls() const;

  struct worker_view {
    std::string id, name, type;
    std::string host;     ///< Where it runs, as its launcher names it ("localhost", "joined"...).
    std::string address;  ///< Where this process reaches its server.
    std::uint16_t port = 0;
    std::int64_t pid = 0;
    clock::time_point started;
    std::size_t restarts = 0;  ///< Workers of the same name that ended before it started.
    std::string ended;         ///< Empty while it runs; then how it ended.
  };
  /// A worker this process spawned is up; its registration link's end (`link`) marks it ended
  /// unless `died` says how first.
  void spawned(worker_view worker, std::shared_ptr<socket_watch> link);
  /// Worker `id` died, as its death report says.
  void died(const std::string& id, const std::string& report);
  /// The workers this process spawned that run, then the last ones that ended.
  std::vector<worker_view> workers();

  /// What this process has seen since it started, for its metrics.
  struct counts {
    std::uint64_t spawned = 0;    ///< Workers that came up.
    std::uint64_t restarted = 0;  ///< Of those, the ones that took the name of an ended one.
    std::uint64_t lost = 0;       ///< Workers that died (not shut down).
    std::uint64_t running = 0;
    map_progress items;  ///< Map-reduce items, summed over every job, ended or running.
  };
  counts totals();

  /// A map-reduce job: its number, for `map_progressed` and `map_ended`.
  std::uint64_t map_started();
  void map_progressed(std::uint64_t job, const map_progress& progress);
  void map_ended(std::uint64_t job);
  std::vector<map_progress> maps() const;

  /// The user thread's kernel id (for its stack), set by the node.
  void set_user_thread(pid_t tid) noexcept { user_thread_.store(tid); }
  pid_t user_thread() const noexcept { return user_thread_.load(); }

 private:
  struct worker_entry {
    worker_view view;
    std::shared_ptr<socket_watch> link;
  };
  void retire_ended_links();  // under mutex_
  // Under mutex_: worker `id` ended `how`; false when it had ended of a death already.
  bool end(const std::string& id, std::string how);

  mutable std::mutex mutex_;
  served_call* oldest_ = nullptr;
  served_call* newest_ = nullptr;
  std::map<std::string, worker_entry> running_;  // by id
  std::deque<worker_view> ended_;                // the last `kept_ended`
  std::map<std::string, std::size_t> ends_by_name_;
  std::uint64_t next_map_ = 1;
  std::map<std::uint64_t, map_progress> maps_;
  counts ever_;  // of workers, and of the map items of ended jobs
  std::atomic<pid_t> user_thread_{0};
};

}  // namespace rpc_parallel::detail
