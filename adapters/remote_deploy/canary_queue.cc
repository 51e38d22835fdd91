#include "adapters/remote_deploy/canary_queue.h"

#include <spdlog/spdlog.h>

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
                         int tries)
    : log_name_(std::move(log_name)), apply_(std::move(apply)), retry_(retry), tries_(tries) {}

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

void CanaryQueue::push(const engine::CanaryTraffic& traffic) {
  const std::string key = key_of(traffic.project_id, traffic.environment);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    latest_[key] = traffic;  // a newer change of the environment replaces the queued one
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
    engine::CanaryTraffic traffic = std::move(latest_[key]);
    latest_.erase(key);
    ++busy_;
    std::string error;
    for (int attempt = 1; attempt <= tries_; ++attempt) {
      lock.unlock();
      auto applied = apply_(traffic);
      lock.lock();
      if (applied) {
        error.clear();
        spdlog::info("{}: {}", log_name_, describe(traffic));
        break;
      }
      error = applied.error();
      spdlog::warn("{}: {} (try {} of {}): {}", log_name_, describe(traffic), attempt, tries_,
                   error);
      // A newer change of the same environment supersedes this one.
      if (stopping_ || latest_.contains(key)) break;
      if (attempt < tries_) {
        changed_.wait_for(lock, retry_, [&] { return stopping_ || latest_.contains(key); });
        if (stopping_ || latest_.contains(key)) break;
      }
    }
    errors_[key] = error;
    --busy_;
    changed_.notify_all();
  }
}

}  // namespace wharf::remote_deploy
