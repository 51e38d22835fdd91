#pragma once
// DubboCanaryTarget: engine::CanaryTarget for canaries whose strategy says
// mode "dubbo" (docs/canary.md#dubbo). Dubbo consumers call providers
// directly, so the traffic is steered by a rule in the Dubbo config center
// that every consumer watches:
//   step (route "weight"): a service-scope configurators rule giving the
//     canary instances (the providers registered with the canary label) the
//     weight that makes the step's share of calls reach them;
//   step (route "tag"): a tag-router rule sending calls that carry
//     dubbo.tag=<tag> to the canary instances (untagged calls never go there);
//   abort: wharf's rule deleted, or the person's rule it replaced put back
//     byte for byte; then the canary instance stops;
//   promotion: the canary instance becomes the stable one, then the rule goes.
// The canary instances are the environment target's: a second local process
// (LocalDeployTarget), or the canary Deployment or Swarm service of the
// Kubernetes or Swarm canary target (mode "dubbo"; remote_instances).
// Every write is compare-and-set on the node's version, and each one is
// recorded (`record`: a RecordDubboRule command) once the config center took
// it; a person's rule is recorded (snapshotted) before wharf overwrites it.
// Changes run per environment in order on a thread of their own with
// retries (remote_deploy::CanaryQueue): a step that still fails after its
// tries aborts the canary; an abort is retried until it goes through.
// Automatic analysis (docs/canary.md#analysis): no wharf router sees Dubbo
// calls, so a step is judged by analysis.prometheus_query_url (Dubbo's own
// metrics) and/or the canary instance's health path, through the shared
// router::CanaryAnalyser.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/dubbo/config_center.h"
#include "adapters/dubbo/rule_store.h"
#include "adapters/dubbo/settings.h"
#include "adapters/remote_deploy/canary_queue.h"
#include "adapters/router/canary_analysis.h"
#include "engine/canary_commands.h"
#include "engine/ports.h"

namespace wharf::local {
class LocalDeployTarget;
}

namespace wharf::dubbo {

struct DubboTargetOptions {
  // Where settings.dubbo_config_center (the ZooKeeper target) is resolved;
  // null: none resolves.
  const targets::TargetResolver* targets = nullptr;
  // The promotion or abort of a Kubernetes or Swarm environment's canary
  // instances (the kind's canary target, synchronously); unset: such a
  // canary cannot finish.
  std::function<Expected<void, std::string>(const engine::CanaryTraffic&)> remote_instances;
  std::chrono::milliseconds retry{1000};
  int tries = 5;
  std::chrono::milliseconds max_retry{10'000};
};

class DubboCanaryTarget final : public engine::CanaryTarget {
 public:
  // Appends the command's event; an error when the log did not take it.
  using Record = std::function<Expected<void, std::string>(const engine::RecordDubboRule&,
                                                           const std::string& command_id)>;
  // The store for a config center (one per target, replaced when its
  // credential version or url changes).
  using StoreFactory = std::function<std::shared_ptr<RuleStore>(const ZookeeperOptions&)>;

  DubboCanaryTarget(local::LocalDeployTarget* instances, Record record,
                    DubboTargetOptions options = {}, StoreFactory stores = {});
  ~DubboCanaryTarget() override;

  void set(const engine::CanaryTraffic& traffic,
           std::function<void(const engine::CanaryVerdict&)> abort) override;

  // Blocks until no change is queued or in hand (tests).
  bool wait_idle(std::chrono::steady_clock::time_point deadline) const;
  std::string last_error(const std::string& project_id, const std::string& environment) const;

 private:
  Expected<void, std::string> apply(const engine::CanaryTraffic& traffic);
  Expected<void, std::string> finish_instances(const engine::CanaryTraffic& t);
  Expected<void, std::string> step(const engine::CanaryTraffic& t, const DubboSettings& s,
                                   RuleStore& store);
  Expected<void, std::string> remove_all(const engine::CanaryTraffic& t, const DubboSettings& s,
                                         RuleStore& store);
  std::shared_ptr<RuleStore> store_for(const ConfigCenter& center);
  Expected<void, std::string> record(const engine::CanaryTraffic& t, wharf::v1::Payload rule,
                                     const std::string& command_id);

  local::LocalDeployTarget* instances_;
  Record record_;
  DubboTargetOptions options_;
  StoreFactory factory_;
  std::mutex mutex_;
  // By target name: the version (ConfigCenter::version) and its store.
  std::map<std::string, std::pair<std::string, std::shared_ptr<RuleStore>>> stores_;
  // What this process wrote or snapshotted since it started, by environment
  // then path: newer than the log's view a queued change carries.
  std::map<std::string, std::map<std::string, engine::DubboRuleState>> owned_;
  std::unique_ptr<remote_deploy::CanaryQueue> queue_;  // its threads use the above
  std::unique_ptr<router::CanaryAnalyser> analyser_;
};

}  // namespace wharf::dubbo
