#pragma once
// The deploy port the process manager sees: each deploy goes to the target
// its environment names (DeploySpec.target) — the local supervised process,
// or a Kubernetes Deployment. Docker Swarm via Portainer is not built yet and
// says so in the deploy's failure reason.
#include <map>
#include <mutex>
#include <string>

#include "engine/ports.h"

namespace wharf::runtime {

class DeployRouter final : public engine::DeployTarget {
 public:
  DeployRouter(engine::DeployTarget& local, engine::DeployTarget& kubernetes)
      : local_(local), kubernetes_(kubernetes) {}

  void start(const engine::DeployJob& job, engine::Callbacks<engine::DeployOutcome> callbacks) override;
  void cancel(const std::string& deploy_id, uint32_t attempt) override;

 private:
  engine::DeployTarget* target_for(wharf::v1::TargetType type);

  engine::DeployTarget& local_;
  engine::DeployTarget& kubernetes_;
  std::mutex mutex_;
  std::map<std::string, engine::DeployTarget*> by_deploy_;  // for cancel
};

}  // namespace wharf::runtime
