#include "adapters/runtime/deploy_router.h"

namespace wharf::runtime {

engine::DeployTarget& DeployRouter::target_for(const wharf::v1::DeploySpec& spec) {
  switch (spec.target()) {
    case wharf::v1::TARGET_TYPE_KUBERNETES:
      return spec.has_canary() && kubernetes_canary_ ? *kubernetes_canary_ : kubernetes_;
    case wharf::v1::TARGET_TYPE_SWARM:
      return spec.has_canary() && swarm_canary_ ? *swarm_canary_ : swarm_;
    default:
      return local_;
  }
}

void DeployRouter::start(const engine::DeployJob& job,
                         engine::Callbacks<engine::DeployOutcome> callbacks) {
  engine::DeployTarget& target = target_for(job.spec);
  {
    std::lock_guard lock(mutex_);
    by_deploy_[job.deploy_id] = &target;
  }
  // Forget the route once the deploy has its outcome, so the map holds only
  // deploys in flight.
  auto done = std::move(callbacks.done);
  callbacks.done = [this, id = job.deploy_id,
                    done = std::move(done)](const engine::DeployOutcome& o) {
    {
      std::lock_guard lock(mutex_);
      by_deploy_.erase(id);
    }
    if (done) done(o);
  };
  target.start(job, std::move(callbacks));
}

void DeployRouter::cancel(const std::string& deploy_id, uint32_t attempt) {
  engine::DeployTarget* target = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = by_deploy_.find(deploy_id);
    if (it != by_deploy_.end()) target = it->second;
  }
  // Unknown here (e.g. started before a restart): every target ignores
  // cancels of keys it does not run.
  if (target != nullptr) {
    target->cancel(deploy_id, attempt);
    return;
  }
  for (engine::DeployTarget* t :
       {&local_, &kubernetes_, &swarm_, kubernetes_canary_, swarm_canary_})
    if (t != nullptr) t->cancel(deploy_id, attempt);
}

void CanaryTargetRouter::set(const engine::CanaryTraffic& traffic,
                             std::function<void(const engine::CanaryVerdict&)> abort) {
  if (dubbo_ != nullptr && traffic.strategy.mode() == "dubbo") {
    return dubbo_->set(traffic, std::move(abort));
  }
  switch (traffic.spec.target()) {
    case wharf::v1::TARGET_TYPE_KUBERNETES:
      return kubernetes_.set(traffic, std::move(abort));
    case wharf::v1::TARGET_TYPE_SWARM:
      return swarm_.set(traffic, std::move(abort));
    default:
      return local_.set(traffic, std::move(abort));
  }
}

}  // namespace wharf::runtime
