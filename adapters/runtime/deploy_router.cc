#include "adapters/runtime/deploy_router.h"

namespace wharf::runtime {

engine::DeployTarget* DeployRouter::target_for(wharf::v1::TargetType type) {
  switch (type) {
    case wharf::v1::TARGET_TYPE_KUBERNETES: return &kubernetes_;
    case wharf::v1::TARGET_TYPE_SWARM: return nullptr;
    default: return &local_;
  }
}

void DeployRouter::start(const engine::DeployJob& job,
                         engine::Callbacks<engine::DeployOutcome> callbacks) {
  engine::DeployTarget* target = target_for(job.spec.target());
  if (target == nullptr) {
    if (callbacks.done) {
      callbacks.done({false, "", "Docker Swarm (Portainer) deploys are not built yet in this wharf"});
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    by_deploy_[job.deploy_id] = target;
  }
  target->start(job, std::move(callbacks));
}

void DeployRouter::cancel(const std::string& deploy_id, uint32_t attempt) {
  engine::DeployTarget* target = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = by_deploy_.find(deploy_id);
    if (it != by_deploy_.end()) target = it->second;
  }
  // Unknown here (e.g. started before a restart): both targets ignore
  // cancels of keys they do not run.
  if (target != nullptr) {
    target->cancel(deploy_id, attempt);
  } else {
    local_.cancel(deploy_id, attempt);
    kubernetes_.cancel(deploy_id, attempt);
  }
}

}  // namespace wharf::runtime
