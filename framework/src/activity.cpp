#include "rpc_parallel/detail/activity.hpp"

#include "rpc_parallel/detail/socket_watch.hpp"

#include <algorithm>

namespace rpc_parallel::detail {
namespace {
// Ended workers kept for the status (a long run's replaced workers must not pile up).
constexpr std::size_t kept_ended = 64;

void add_items(map_progress& sum, const map_progress& job) {
  sum.done += job.done;
  sum.in_flight += job.in_flight;
  sum.retried += job.retried;
  sum.timed_out += job.timed_out;
  sum.speculated += job.speculated;
  sum.failed += job.failed;
}
}  // namespace

activity& activity::of_this_process() noexcept {
  static activity* the = new activity;  // never destroyed: the guardian may read it at exit
  return *the;
}

activity::served_call::served_call(std::string_view type, std::string_view function,
                                   bool holds_thread) noexcept
    : type_(type), function_(function), holds_thread_(holds_thread), since_(clock::now()) {
  activity& a = of_this_process();
  std::lock_guard lock(a.mutex_);
  previous_ = a.newest_;
  if (previous_) previous_->next_ = this;
  a.newest_ = this;
  if (!a.oldest_) a.oldest_ = this;
}

activity::served_call::~served_call() {
  activity& a = of_this_process();
  std::lock_guard lock(a.mutex_);
  (previous_ ? previous_->next_ : a.oldest_) = next_;
  (next_ ? next_->previous_ : a.newest_) = previous_;
}

std::vector<activity::call_view> activity::served_calls() const {
  std::vector<call_view> calls;
  auto now = clock::now();
  std::lock_guard lock(mutex_);
  for (const served_call* c = oldest_; c; c = c->next_)
    calls.push_back({std::string(c->type_) + "." + std::string(c->function_), c->holds_thread_,
                     now - c->since_});
  return calls;
}

void activity::spawned(worker_view worker, std::shared_ptr<socket_watch> link) {
  std::lock_guard lock(mutex_);
  retire_ended_links();
  auto ends = ends_by_name_.find(worker.name);
  worker.restarts = ends == ends_by_name_.end() ? 0 : ends->second;
  ++ever_.spawned;
  if (worker.restarts > 0) ++ever_.restarted;
  std::string id = worker.id;
  running_[id] = {std::move(worker), std::move(link)};
}

void activity::died(const std::string& id, const std::string& report) {
  std::lock_guard lock(mutex_);
  if (end(id, "died: " + report)) ++ever_.lost;  // once, whichever of its links tells first
}

bool activity::end(const std::string& id, std::string how) {
  auto found = running_.find(id);
  if (found == running_.end()) {
    // Its link's end was noticed first: what follows says more.
    for (auto& view : ended_) {
      if (view.id != id || view.ended.rfind("died: ", 0) == 0) continue;
      view.ended = std::move(how);
      return true;
    }
    return false;
  }
  worker_view view = std::move(found->second.view);
  running_.erase(found);
  view.ended = std::move(how);
  ++ends_by_name_[view.name];
  ended_.push_back(std::move(view));
  if (ended_.size() > kept_ended) ended_.pop_front();
  return true;
}

activity::counts activity::totals() {
  std::lock_guard lock(mutex_);
  retire_ended_links();
  counts all = ever_;
  all.running = running_.size();
  for (const auto& [job, p] : maps_) add_items(all.items, p);
  return all;
}

void activity::retire_ended_links() {
  for (auto it = running_.begin(); it != running_.end();) {
    if (!it->second.link || !it->second.link->is_closed()) {
      ++it;
      continue;
    }
    worker_view view = std::move(it->second.view);
    it = running_.erase(it);
    view.ended = "its connection to this process closed";
    ++ends_by_name_[view.name];
    ended_.push_back(std::move(view));
    if (ended_.size() > kept_ended) ended_.pop_front();
  }
}

std::vector<activity::worker_view> activity::workers() {
  std::lock_guard lock(mutex_);
  retire_ended_links();
  std::vector<worker_view> all;
  for (const auto& [id, entry] : running_) all.push_back(entry.view);
  all.insert(all.end(), ended_.begin(), ended_.end());
  // By name, as a user looks for them; a running worker before the ended ones of its name.
  std::stable_sort(all.begin(), all.end(),
                   [](const worker_view& a, const worker_view& b) { return a.name < b.name; });
  return all;
}

std::uint64_t activity::map_started() {
  std::lock_guard lock(mutex_);
  std::uint64_t job = next_map_++;
  maps_[job] = {};
  return job;
}

void activity::map_progressed(std::uint64_t job, const map_progress& progress) {
  std::lock_guard lock(mutex_);
  if (auto found = maps_.find(job); found != maps_.end()) found->second = progress;
}

void activity::map_ended(std::uint64_t job) {
  std::lock_guard lock(mutex_);
  auto found = maps_.find(job);
  if (found == maps_.end()) return;
  add_items(ever_.items, found->second);
  maps_.erase(found);
}

std::vector<map_progress> activity::maps() const {
  std::lock_guard lock(mutex_);
  std::vector<map_progress> all;
  for (const auto& [job, progress] : maps_) all.push_back(progress);
  return all;
}

}  // namespace rpc_parallel::detail
