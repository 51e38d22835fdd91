#pragma once
// Ports for process-manager tests: they record every start and cancel, and
// either complete at once (auto) or wait for the test to complete them.
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/ports.h"

namespace wharf::runtime::testing {

template <typename Job, typename Outcome>
class FakePort {
 public:
  struct Started {
    Job job;
    engine::Callbacks<Outcome> callbacks;
    bool completed = false;
  };

  // When set, every start completes at once with `outcome`.
  void auto_complete(Outcome outcome) {
    std::lock_guard lock(mutex_);
    auto_ = true;
    auto_outcome_ = std::move(outcome);
  }
  void manual() {
    std::lock_guard lock(mutex_);
    auto_ = false;
  }

  size_t starts() const {
    std::lock_guard lock(mutex_);
    return started_.size();
  }
  size_t starts_of(const std::string& key) const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& s : started_) n += key_of(s.job) == key;
    return n;
  }
  std::vector<Job> jobs() const {
    std::lock_guard lock(mutex_);
    std::vector<Job> out;
    for (const auto& s : started_) out.push_back(s.job);
    return out;
  }
  std::vector<std::string> cancels() const {
    std::lock_guard lock(mutex_);
    return cancels_;
  }
  // Completes every open start of `key`; false when there is none.
  bool complete(const std::string& key, const Outcome& outcome) {
    std::vector<engine::Callbacks<Outcome>> to_call;
    {
      std::lock_guard lock(mutex_);
      for (auto& s : started_) {
        if (key_of(s.job) == key && !s.completed) {
          s.completed = true;
          to_call.push_back(s.callbacks);
        }
      }
    }
    for (auto& cb : to_call) cb.done(outcome);
    return !to_call.empty();
  }

 protected:
  void record_start(const Job& job, engine::Callbacks<Outcome> callbacks) {
    bool complete_now = false;
    Outcome outcome;
    {
      std::lock_guard lock(mutex_);
      started_.push_back({job, callbacks, auto_});
      complete_now = auto_;
      outcome = auto_outcome_;
    }
    if (complete_now) {
      if (callbacks.progress) {
        callbacks.progress({engine::StepProgress::Kind::kStarted, "fake", "", "started", 0});
      }
      callbacks.done(outcome);
    }
  }
  void record_cancel(const std::string& key) {
    std::lock_guard lock(mutex_);
    cancels_.push_back(key);
  }
  virtual std::string key_of(const Job& job) const = 0;

 private:
  mutable std::mutex mutex_;
  std::vector<Started> started_;
  std::vector<std::string> cancels_;
  bool auto_ = false;
  Outcome auto_outcome_{};
};

inline std::string key(const std::string& id, uint32_t attempt) {
  return id + "#" + std::to_string(attempt);
}

class FakeBuildRunner final : public engine::BuildRunner,
                              public FakePort<engine::BuildJob, engine::BuildOutcome> {
 public:
  void start(const engine::BuildJob& job,
             engine::Callbacks<engine::BuildOutcome> callbacks) override {
    record_start(job, std::move(callbacks));
  }
  void cancel(const std::string& run_id, uint32_t attempt) override {
    record_cancel(key(run_id, attempt));
  }
  static engine::BuildOutcome success(const std::string& digest = "sha256:" +
                                                                std::string(64, 'a')) {
    engine::BuildOutcome o;
    o.succeeded = true;
    o.artifact_digest = digest;
    o.artifact_uri = "/artifacts/" + digest;
    return o;
  }

 private:
  std::string key_of(const engine::BuildJob& job) const override {
    return key(job.run_id, job.attempt);
  }
};

class FakeDeployTarget final : public engine::DeployTarget,
                               public FakePort<engine::DeployJob, engine::DeployOutcome> {
 public:
  void start(const engine::DeployJob& job,
             engine::Callbacks<engine::DeployOutcome> callbacks) override {
    record_start(job, std::move(callbacks));
  }
  void cancel(const std::string& deploy_id, uint32_t attempt) override {
    record_cancel(key(deploy_id, attempt));
  }
  static engine::DeployOutcome success() { return {true, "http://127.0.0.1:1", ""}; }

 private:
  std::string key_of(const engine::DeployJob& job) const override {
    return key(job.deploy_id, job.attempt);
  }
};

class FakeTestRunner final : public engine::TestRunner,
                             public FakePort<engine::TestJob, engine::TestOutcome> {
 public:
  void start(const engine::TestJob& job, engine::Callbacks<engine::TestOutcome> callbacks) override {
    record_start(job, std::move(callbacks));
  }
  void cancel(const std::string& run_id, uint32_t attempt) override {
    record_cancel(key(run_id, attempt));
  }
  static engine::TestOutcome passed() {
    engine::TestOutcome o;
    o.passed = true;
    return o;
  }

 private:
  std::string key_of(const engine::TestJob& job) const override {
    return key(job.run_id + "/" + job.environment, job.attempt);
  }
};

}  // namespace wharf::runtime::testing
