#include "adapters/runtime/build_router.h"

#include "adapters/local/active_jobs.h"

namespace wharf::runtime {

void BuildRouter::start(const engine::BuildJob& job,
                        engine::Callbacks<engine::BuildOutcome> callbacks) {
  engine::BuildRunner& runner =
      job.step.runner() == wharf::v1::BUILD_RUNNER_TYPE_JENKINS ? jenkins_ : local_;
  const std::string key = local::job_key(job.run_id, job.attempt);
  {
    std::lock_guard lock(mutex_);
    by_build_[key] = &runner;
  }
  // Forget the route once the build has its outcome: the map holds only
  // builds in flight.
  auto done = std::move(callbacks.done);
  callbacks.done = [this, key, done = std::move(done)](const engine::BuildOutcome& o) {
    {
      std::lock_guard lock(mutex_);
      by_build_.erase(key);
    }
    if (done) done(o);
  };
  runner.start(job, std::move(callbacks));
}

void BuildRouter::cancel(const std::string& run_id, uint32_t attempt) {
  engine::BuildRunner* runner = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = by_build_.find(local::job_key(run_id, attempt));
    if (it != by_build_.end()) runner = it->second;
  }
  // Unknown here: both runners ignore cancels of keys they do not run.
  if (runner != nullptr) {
    runner->cancel(run_id, attempt);
    return;
  }
  for (engine::BuildRunner* r : {&local_, &jenkins_}) r->cancel(run_id, attempt);
}

}  // namespace wharf::runtime
