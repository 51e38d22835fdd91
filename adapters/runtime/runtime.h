#pragma once
// Runtime: what `wharf serve` (or a test harness) owns to run pipelines - a
// CommandBus, a ProcessManager and the ports (the local runners under the
// data directory unless others are given).
//
//   auto store = events::EventStore::open(dir + "/events");
//   runtime::Runtime rt(**store, {.data_dir = dir});
//   rt.start();                       // folds the log, recovers, subscribes
//   rt.commands().execute(cmd, ctx);  // CLI / API commands
//   rt.stop();
#include <filesystem>
#include <memory>

#include "adapters/jenkins/build_runner.h"
#include "adapters/local/build_runner.h"
#include "adapters/local/deploy_target.h"
#include "adapters/local/test_runner.h"
#include "adapters/dubbo/canary_target.h"
#include "adapters/router/canary_target.h"
#include "adapters/kubernetes/canary_target.h"
#include "adapters/kubernetes/deploy_target.h"
#include "adapters/swarm/canary_target.h"
#include "adapters/swarm/deploy_target.h"
#include "adapters/runtime/build_router.h"
#include "adapters/runtime/clock.h"
#include "adapters/runtime/command_bus.h"
#include "adapters/runtime/deploy_router.h"
#include "adapters/runtime/process_manager.h"

namespace wharf::runtime {

struct RuntimeOptions {
  std::filesystem::path data_dir;     // local runners' files (work, logs, artifacts, targets)
  const Clock* clock = nullptr;       // default: the system clock
  size_t command_workers = 4;
  bool restore_services = true;       // restart local instances whose process is gone
  local::DeployTargetOptions deploy{};  // health timeout, stop grace
  jenkins::ServerConfig jenkins{};      // Jenkins server + credentials for Jenkins build steps
  router::CanaryRouterOptions canary_router{};  // the local canary router (docs/canary.md)
  dubbo::DubboTargetOptions dubbo{};  // Dubbo canaries' config center (docs/canary.md#dubbo)
  // Where Kubernetes and Swarm deploys and canaries get their clusters and
  // credentials (docs/targets.md); null: no target resolves.
  const targets::TargetResolver* targets = nullptr;
  // When the process manager writes its state snapshot (process_manager.h).
  SnapshotPolicy snapshots{};
};

class Runtime {
 public:
  // Ports left null in `ports` are the local runners (builds: routed by the
  // build step's runner to the local runner or Jenkins; deploys: routed by the
  // environment's target type to the local target, Kubernetes or Swarm).
  Runtime(events::EventStore& store, RuntimeOptions options, Ports ports = {});
  ~Runtime();  // stop()

  Expected<void, std::string> start();
  // Stops reacting; builds and services keep running (adopted on the next start).
  void stop();

  CommandBus& commands() { return *bus_; }
  ProcessManager& process_manager() { return *manager_; }
  const Clock& clock() const { return *clock_; }
  const targets::TargetResolver& targets() const { return *targets_; }
  // The local deploy target when it is in use (null otherwise).
  local::LocalDeployTarget* local_deploy_target() { return local_deploy_.get(); }
  // The local canary router when it is in use (null when `ports` named another).
  router::LocalCanaryTarget* canary_router() { return canary_router_.get(); }
  // The Kubernetes and Swarm canary targets (null when `ports` named a canary port).
  kubernetes::KubernetesCanaryTarget* kubernetes_canary() { return kubernetes_canary_.get(); }
  swarm::SwarmCanaryTarget* swarm_canary() { return swarm_canary_.get(); }
  // The Dubbo canary target (null when `ports` named a canary port).
  dubbo::DubboCanaryTarget* dubbo_canary() { return dubbo_canary_.get(); }
  // The Jenkins build runner when builds run in this process (null otherwise).
  const jenkins::JenkinsBuildRunner* jenkins_build_runner() const { return jenkins_build_.get(); }

 private:
  events::EventStore& store_;
  RuntimeOptions options_;
  SystemClock system_clock_;
  const Clock* clock_;
  const targets::TargetResolver* targets_;
  std::unique_ptr<local::LocalBuildRunner> local_build_;
  std::unique_ptr<jenkins::JenkinsBuildRunner> jenkins_build_;
  std::unique_ptr<BuildRouter> build_router_;
  std::unique_ptr<local::LocalDeployTarget> local_deploy_;
  std::unique_ptr<kubernetes::KubernetesDeployTarget> kubernetes_deploy_;
  std::unique_ptr<swarm::SwarmDeployTarget> swarm_deploy_;
  std::unique_ptr<DeployRouter> deploy_router_;
  std::unique_ptr<local::LocalTestRunner> local_tests_;
  std::unique_ptr<router::LocalCanaryTarget> canary_router_;
  std::unique_ptr<kubernetes::KubernetesCanaryTarget> kubernetes_canary_;
  std::unique_ptr<swarm::SwarmCanaryTarget> swarm_canary_;
  std::unique_ptr<dubbo::DubboCanaryTarget> dubbo_canary_;
  std::unique_ptr<CanaryTargetRouter> canary_targets_;
  Ports ports_;
  std::unique_ptr<CommandBus> bus_;
  std::unique_ptr<ProcessManager> manager_;
  bool started_ = false;
};

}  // namespace wharf::runtime
