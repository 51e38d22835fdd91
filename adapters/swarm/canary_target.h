#pragma once
// SwarmCanaryTarget: canaries of environments whose target is
// TARGET_TYPE_SWARM, through Portainer's Docker proxy (docs/canary.md#swarm).
// Like the Kubernetes one it is the deploy target of a canary deploy (the
// DeployRouter sends those here) and the engine::CanaryTarget of its traffic.
//
// The canary is a second service <service>-canary (settings canary_service):
// created as a copy of the stable service's Spec (without its published
// ports; the stable service's name added as a network alias), then updated
// to the canary's image so Swarm's update monitoring watches it like any
// deploy. The weight is the task count: of N replicas (the spec's, else the
// stable service's) the canary runs ceil(N*w/100), the stable service the
// rest (at least one) — what a balancer over both services' tasks sees.
// Header and cookie routing are not available on Swarm (a canary deploy with
// a match fails; the API refuses the strategy). Promotion: the stable service
// takes the canary's image, env and deploy label at N replicas; once Swarm
// reports that update done (verdict_of, as a deploy waits) the canary service
// is removed. Abort: the stable service back at N, the canary service
// removed. Traffic changes run on a thread per environment, in order.
// Mode "dubbo": the canary service runs one task whose DUBBO_LABELS carries
// the canary label (engine::dubbo_canary_labels) and the stable service keeps
// its replicas; rules in the Dubbo config center move the calls
// (adapters/dubbo): the DubboCanaryTarget calls apply() here for the
// promotion and the abort.
//
// Automatic analysis (docs/canary.md#analysis): while the canary is at a
// step, a CanaryAnalyser queries analysis.prometheus_query_url (required on
// this target: there are no router counts) and, with check_health, the
// health path of settings.canary_url (else the canary deploy's URL); a breach
// goes to the step's `abort`, once.
#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "adapters/remote_deploy/canary_queue.h"
#include "adapters/remote_deploy/remote_deploy.h"
#include "adapters/router/canary_analysis.h"
#include "adapters/swarm/deploy_target.h"
#include "adapters/swarm/service_update.h"
#include "engine/ports.h"

namespace wharf::swarm {

inline constexpr const char* kCanaryOfLabel = "wharf.canary-of";        // the stable service
inline constexpr const char* kCanaryTotalLabel = "wharf.canary.total";  // N, on the canary

// Pure (tests/canary/swarm_spec_test.cc): the canary service's first Spec,
// from the inspected stable service.
boost::json::object canary_copy(const boost::json::object& stable, const std::string& name,
                                uint64_t replicas, uint64_t total);
// The inspected service's Spec with `replicas` tasks (nothing else changed).
boost::json::object scaled_spec(const boost::json::object& service, uint64_t replicas);
// Spec.Mode.Replicated.Replicas of an inspected service (1 when absent).
uint64_t replicas_of(const boost::json::object& service);

class SwarmCanaryTarget final : public engine::DeployTarget, public engine::CanaryTarget {
 public:
  explicit SwarmCanaryTarget(const targets::TargetResolver& targets,
                             std::chrono::milliseconds poll = std::chrono::seconds(1),
                             std::chrono::milliseconds retry = std::chrono::seconds(1));

  void start(const engine::DeployJob& job,
             engine::Callbacks<engine::DeployOutcome> callbacks) override {
    runner_.start(job, std::move(callbacks));
  }
  void cancel(const std::string& deploy_id, uint32_t attempt) override {
    runner_.cancel(deploy_id, attempt);
  }
  // Queues the traffic change and hands the step (or its end) to the analysis.
  void set(const engine::CanaryTraffic& traffic,
           std::function<void(const engine::CanaryVerdict&)> abort) override;

  bool wait_idle(std::chrono::steady_clock::time_point deadline) const {
    return queue_.wait_idle(deadline);
  }
  std::string last_error(const std::string& project_id, const std::string& environment) const {
    return queue_.last_error(project_id, environment);
  }

  // The traffic change itself, on the caller's thread (the queue's, or a
  // Dubbo canary's for its canary service).
  Expected<void, std::string> apply(const engine::CanaryTraffic& traffic);

 private:
  void run(remote_deploy::Deploy& deploy);

  const targets::TargetResolver& targets_;
  std::chrono::milliseconds poll_;
  remote_deploy::CanaryQueue queue_;
  router::CanaryAnalyser analyser_;
  remote_deploy::DeployRunner runner_;  // last: joins the threads that use the above
};

}  // namespace wharf::swarm
