#pragma once
// The deploy port the process manager sees: each deploy goes to the target
// its environment names (DeploySpec.target) — the local supervised process,
// a Kubernetes Deployment, or a Docker Swarm service through Portainer. A
// canary deploy (the spec carries a canary strategy) of a Kubernetes or Swarm
// environment goes to that kind's canary target when one is given.
#include <map>
#include <mutex>
#include <string>

#include "engine/ports.h"

namespace wharf::runtime {

class DeployRouter final : public engine::DeployTarget {
 public:
  DeployRouter(engine::DeployTarget& local, engine::DeployTarget& kubernetes,
               engine::DeployTarget& swarm, engine::DeployTarget* kubernetes_canary = nullptr,
               engine::DeployTarget* swarm_canary = nullptr)
      : local_(local),
        kubernetes_(kubernetes),
        swarm_(swarm),
        kubernetes_canary_(kubernetes_canary),
        swarm_canary_(swarm_canary) {}

  void start(const engine::DeployJob& job,
             engine::Callbacks<engine::DeployOutcome> callbacks) override;
  void cancel(const std::string& deploy_id, uint32_t attempt) override;

 private:
  engine::DeployTarget& target_for(const wharf::v1::DeploySpec& spec);

  engine::DeployTarget& local_;
  engine::DeployTarget& kubernetes_;
  engine::DeployTarget& swarm_;
  engine::DeployTarget* kubernetes_canary_;
  engine::DeployTarget* swarm_canary_;
  std::mutex mutex_;
  std::map<std::string, engine::DeployTarget*> by_deploy_;  // deploys in flight, for cancel
};

// The canary port the process manager sees: each environment's traffic goes
// to the canary target of its kind (the local router, Kubernetes, Swarm), or
// to the Dubbo config center when the strategy's mode is "dubbo".
class CanaryTargetRouter final : public engine::CanaryTarget {
 public:
  CanaryTargetRouter(engine::CanaryTarget& local, engine::CanaryTarget& kubernetes,
                     engine::CanaryTarget& swarm, engine::CanaryTarget* dubbo = nullptr)
      : local_(local), kubernetes_(kubernetes), swarm_(swarm), dubbo_(dubbo) {}

  void set(const engine::CanaryTraffic& traffic,
           std::function<void(const engine::CanaryVerdict&)> abort) override;

 private:
  engine::CanaryTarget& local_;
  engine::CanaryTarget& kubernetes_;
  engine::CanaryTarget& swarm_;
  engine::CanaryTarget* dubbo_;
};

}  // namespace wharf::runtime
