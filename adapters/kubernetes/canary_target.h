#pragma once
// KubernetesCanaryTarget: canaries of environments whose target is
// TARGET_TYPE_KUBERNETES (docs/canary.md#kubernetes). It is both the deploy
// target of a canary deploy (a DeploySpec with a canary strategy; the
// DeployRouter sends those here) and the engine::CanaryTarget that moves the
// traffic at each step, on promotion and on abort. The strategy's `mode`:
//
//   replicas (default)  a second Deployment <deployment>-canary (settings
//       canary_deployment), a copy of the stable one with the canary's image
//       and a wharf.dev/track=canary pod label; the Service that selects the
//       stable pods selects these too, so the weight is the replica ratio:
//       of N replicas (the spec's replicas, else the stable Deployment's) the
//       canary runs ceil(N*w/100), the stable one the rest (at least one).
//   ingress-nginx  the canary Deployment (N replicas, pods relabelled so the
//       stable Service does not select them), a Service <service>-canary and
//       an Ingress <ingress>-canary copied from settings.ingress with the
//       nginx.ingress.kubernetes.io/canary annotations: canary-weight, and
//       canary-by-header (+ -value, or -pattern ".*" for any value) /
//       canary-by-cookie from the strategy's match.
//   dubbo  the canary Deployment with one pod whose DUBBO_LABELS carries the
//       canary label (engine::dubbo_canary_labels); the stable Deployment
//       keeps its replicas. Rules in the Dubbo config center move the calls
//       (adapters/dubbo, docs/canary.md#dubbo): the traffic of such a canary
//       goes to the DubboCanaryTarget, which calls apply() here for the
//       promotion (after it) and the abort (after its rules are gone).
//
// Promotion: the stable Deployment gets the canary's image, env and deploy
// key (and its N replicas back); once its rollout is done (rollout_of, as a
// deploy waits) the canary objects are deleted. Abort:
// the canary Ingress's weight goes to 0 and its header rule is removed first,
// then the canary objects are deleted and the stable Deployment gets its N
// replicas back. Traffic changes run on a thread per environment, in order
// (the process manager does not wait for the cluster); a failed call is
// retried as remote_deploy::CanaryQueue says (a step that keeps failing
// goes to `abort`).
//
// Automatic analysis (docs/canary.md#analysis): while the canary is at a
// step, a CanaryAnalyser queries analysis.prometheus_query_url (required on
// this target: there are no router counts) and, with check_health, the
// health path of settings.canary_url (else the canary deploy's URL; with
// neither, the canary Deployment's readiness: all its replicas ready); a
// breach goes to the step's `abort`, once.
#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "adapters/kubernetes/deploy_target.h"
#include "adapters/kubernetes/rollout.h"
#include "adapters/remote_deploy/canary_queue.h"
#include "adapters/remote_deploy/remote_deploy.h"
#include "adapters/router/canary_analysis.h"
#include "engine/ports.h"

namespace wharf::kubernetes {

inline constexpr const char* kTrackLabel = "wharf.dev/track";          // "canary"
inline constexpr const char* kCanaryTotal = "wharf.dev/canary-total";  // N, on the canary
inline constexpr const char* kCanaryOf = "wharf.dev/canary-of";        // the stable Deployment
inline constexpr const char* kNginx = "nginx.ingress.kubernetes.io/";  // annotation prefix

// The names of one environment's canary objects, from its settings and strategy.
struct CanaryNames {
  bool ingress = false;  // mode ingress-nginx
  bool dubbo = false;    // mode dubbo
  std::string stable_deployment, deployment, stable_service, service, stable_ingress, ingress_name;
};
Expected<CanaryNames, std::string> canary_names_of(const wharf::v1::DeploySpec& spec);

// Pure builders (tests/canary/kubernetes_objects_test.cc).
// The canary Deployment: a copy of `stable` named names.deployment with the
// image, env, deploy key, replicas and the track label (ingress mode: the
// values of `service_selector`'s keys get "-canary", so the stable Service
// does not pick the canary pods).
boost::json::object canary_deployment(const boost::json::object& stable, const CanaryNames& names,
                                      const boost::json::object& service_selector,
                                      const PatchInput& input, uint32_t total);
// The canary Service: `stable`'s ports, the canary pods' selector.
boost::json::object canary_service(const boost::json::object& stable, const CanaryNames& names);
// The canary Ingress: `stable`'s rules with the stable Service's backends
// pointed at the canary Service, and canary_annotations(weight, match).
boost::json::object canary_ingress(const boost::json::object& stable, const CanaryNames& names,
                                   uint32_t weight, const wharf::v1::CanaryMatch& match);
// nginx.ingress.kubernetes.io/canary* for a weight and match; `clear` sets the
// header and cookie keys to null (a merge patch removes them).
boost::json::object canary_annotations(uint32_t weight, const wharf::v1::CanaryMatch& match,
                                       bool clear = false);

class KubernetesCanaryTarget final : public engine::DeployTarget, public engine::CanaryTarget {
 public:
  explicit KubernetesCanaryTarget(const targets::TargetResolver& targets,
                                  std::chrono::milliseconds poll = std::chrono::seconds(1),
                                  std::chrono::milliseconds retry = std::chrono::seconds(1));

  // The canary's deploy: puts the canary objects in place (the canary at the
  // first step's share) and waits for the canary Deployment's rollout.
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
  // Dubbo canary's for its canary Deployment).
  Expected<void, std::string> apply(const engine::CanaryTraffic& traffic);

 private:
  void run(remote_deploy::Deploy& deploy);

  const targets::TargetResolver& targets_;
  std::chrono::milliseconds poll_;
  remote_deploy::CanaryQueue queue_;
  router::CanaryAnalyser analyser_;
  remote_deploy::DeployRunner runner_;  // last: joins the threads that use the above
};

}  // namespace wharf::kubernetes
