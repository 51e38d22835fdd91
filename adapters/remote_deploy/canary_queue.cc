#include "adapters/remote_deploy/canary_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace wharf::remote_deploy {

namespace {

std::string key_of(const std::string& project_id, const std::string& environment) {
  return project_id + "/" + environment;
}

}  // namespace

ReplicaSplit replica_split(uint32_t total, uint32_t weight) {
  if (weight == 0 || total == 0) return {total, 0};
  if (weight >= 100) return {0, total};
  uint32_t canary = static_cast<uint32_t>((uint64_t(total) * weight + 99) / 100);
  if (canary >= total) return {1, total == 1 ? 1 : total - 1};
  return {total - canary, canary};
}

std::string describe(const engine::CanaryTraffic& t) {
  using Phase = engine::CanaryTraffic::Phase;
  const std::string where = key_of(t.project_id, t.environment) + " (canary " + t.canary_id + ")";
  switch (t.phase) {
    case Phase::kStep:
      return where + ": step " + std::to_string(t.step) + " at " + std::to_string(t.weight) + "%";
    case Phase::kPromoted:
      return where + ": promoted";
    case Phase::kAborted:
      return where + ": aborted";
  }
  return where;
}

CanaryQueue::CanaryQueue(std::string log_name, Apply apply, std::chrono::milliseconds retry,
                         int tries, std::chrono::milliseconds max_retry)
    : log_name_(std::move(log_name)),
      apply_(std::move(apply)),
      retry_(retry),
      tries_(tries),
      max_retry_(std::max(max_retry, retry)) {}

CanaryQueue::~CanaryQueue() {
  std::map<std::string, std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    workers.swap(workers_);
  }
  changed_.notify_all();
  for (auto& [key, worker] : workers) worker.join();
}

void CanaryQueue::push(const engine::CanaryTraffic& traffic, OnFailed on_failed) {
  const std::string key = key_of(traffic.project_id, traffic.environment);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    // A newer change of the environment replaces the queued one.
    latest_[key] = Change{traffic, std::move(on_failed)};
    if (!workers_.contains(key)) workers_.emplace(key, std::thread([this, key] { work(key); }));
  }
  changed_.notify_all();
}

bool CanaryQueue::wait_idle(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [this] { return latest_.empty() && busy_ == 0; });
}

bool CanaryQueue::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

std::string CanaryQueue::last_error(const std::string& project_id,
                                    const std::string& environment) const {
  std::lock_guard lock(mutex_);
  auto it = errors_.find(key_of(project_id, environment));
  return it == errors_.end() ? "" : it->second;
}

void CanaryQueue::work(const std::string& key) {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || latest_.contains(key); });
    if (stopping_) return;
    Change change = std::move(latest_[key]);
    latest_.erase(key);
    ++busy_;
    bool gave_up = false;
    std::string error = apply_with_retries(key, change, lock, gave_up);
    errors_[key] = error;
    if (gave_up && change.on_failed) {
      engine::CanaryVerdict verdict;
      verdict.reason = "traffic change failed after " + std::to_string(tries_) +
                       " tries: " + describe(change.traffic) + ": " + error;
      verdict.figures.set_source("traffic");
      // Unlocked: the abort comes back through push() on this or another thread.
      lock.unlock();
      change.on_failed(verdict);
      lock.lock();
    }
    --busy_;
    changed_.notify_all();
  }
}

std::string CanaryQueue::apply_with_retries(const std::string& key, const Change& change,
                                            std::unique_lock<std::mutex>& lock, bool& gave_up) {
  using Phase = engine::CanaryTraffic::Phase;
  // Sending the traffic back to the stable version is always safe to repeat;
  // a promotion repeated late could undo a deploy made after it.
  const bool until_done = change.traffic.phase == Phase::kAborted;
  auto superseded = [&] { return stopping_ || latest_.contains(key); };
  std::chrono::milliseconds wait = retry_;
  for (int attempt = 1;; ++attempt) {
    lock.unlock();
    auto applied = apply_(change.traffic);
    lock.lock();
    if (applied) {
      spdlog::info("{}: {}", log_name_, describe(change.traffic));
      return "";
    }
    errors_[key] = applied.error();  // seen while the change is still retried
    if (!until_done && attempt >= tries_) {
      spdlog::error("{}: {} failed {} times, given up: {}", log_name_, describe(change.traffic),
                    attempt, applied.error());
      gave_up = change.traffic.phase == Phase::kStep && !superseded();
      return applied.error();
    }
    spdlog::warn("{}: {} (try {}{}; again in {} ms): {}", log_name_, describe(change.traffic),
                 attempt, until_done ? "" : " of " + std::to_string(tries_), wait.count(),
                 applied.error());
    // A newer change of the environment (or stopping) ends the wait and this change.
    if (changed_.wait_for(lock, wait, superseded)) return applied.error();
    wait = std::min(wait * 2, max_retry_);
  }
}

}  // namespace wharf::remote_deploy
