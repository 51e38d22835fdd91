#pragma once
// The deploy port the process manager sees: each deploy goes to the target
// its environment names (DeploySpec.target) — the local supervised process,
// a Kubernetes Deployment, or a Docker Swarm service through Portainer.
#include <map>
#include <mutex>
#include <string>

#include "engine/ports.h"

namespace wharf::runtime {

class DeployRouter final : public engine::DeployTarget {
 public:
  DeployRouter(engine::DeployTarget& local, engine::DeployTarget& kubernetes,
               engine::DeployTarget& swarm)
      : local_(local), kubernetes_(kubernetes), swarm_(swarm) {}

  void start(const engine::DeployJob& job,
             engine::Callbacks<engine::DeployOutcome> callbacks) override;
  void cancel(const std::string& deploy_id, uint32_t attempt) override;

 private:
  engine::DeployTarget& target_for(wharf::v1::TargetType type);

  engine::DeployTarget& local_;
  engine::DeployTarget& kubernetes_;
  engine::DeployTarget& swarm_;
  std::mutex mutex_;
  std::map<std::string, engine::DeployTarget*> by_deploy_;  // deploys in flight, for cancel
};

}  // namespace wharf::runtime
