#pragma once
// The jobs a runner is working on, by idempotency key ("<run>#<attempt>").
// A second start of a key that is in progress joins it: its callbacks get the
// same progress and the same single result, and no second process starts.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/ports.h"

namespace wharf::local {

inline std::string job_key(const std::string& id, uint32_t attempt) {
  return id + "#" + std::to_string(attempt);
}

template <typename Outcome>
class ActiveJobs {
 public:
  struct Job {
    std::vector<engine::Callbacks<Outcome>> callbacks;
    std::atomic<bool> cancel{false};
  };

  // Registers `callbacks` under `key`; returns the job when it is new (the
  // caller must then do the work), nullptr when it joined a running one.
  std::shared_ptr<Job> add(const std::string& key, engine::Callbacks<Outcome> callbacks) {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(key);
    if (it != jobs_.end()) {
      it->second->callbacks.push_back(std::move(callbacks));
      return nullptr;
    }
    auto job = std::make_shared<Job>();
    job->callbacks.push_back(std::move(callbacks));
    jobs_[key] = job;
    return job;
  }

  void progress(const std::string& key, const engine::StepProgress& p) {
    std::vector<std::function<void(const engine::StepProgress&)>> sinks;
    {
      std::lock_guard lock(mutex_);
      auto it = jobs_.find(key);
      if (it == jobs_.end()) return;
      for (auto& cb : it->second->callbacks) sinks.push_back(cb.progress);
    }
    for (auto& sink : sinks) {
      if (sink) sink(p);
    }
  }

  // Delivers the one result to every joined caller and forgets the key.
  void finish(const std::string& key, const Outcome& outcome) {
    std::vector<engine::Callbacks<Outcome>> callbacks;
    {
      std::lock_guard lock(mutex_);
      auto it = jobs_.find(key);
      if (it == jobs_.end()) return;
      callbacks.swap(it->second->callbacks);
      jobs_.erase(it);
    }
    for (auto& cb : callbacks) {
      if (cb.done) cb.done(outcome);
    }
  }

  void cancel(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(key);
    if (it != jobs_.end()) it->second->cancel.store(true);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
};

}  // namespace wharf::local
