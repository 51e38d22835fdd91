#pragma once
// Canary releases on the environment stream (docs/canary.md). A deploy whose
// DeploySpec carries a CanaryStrategy goes out beside the stable version; when
// it succeeds the canary starts at its first step and walks the steps: a
// timed pause ends through ExpireTimer{STEP_KIND_CANARY}, a manual one through
// PromoteCanary. Reaching weight 100 promotes it (it becomes the stable
// version); AbortCanary (a user, or the automatic analysis with its figures)
// sends all traffic back to the stable version. Pure: no clock, no I/O.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "engine/decision.h"
#include "engine/dubbo_rule.h"

namespace wharf::engine {

struct EnvironmentState;

struct CanaryState {
  // The stable version: the latest plain DeploySucceeded, or the last promoted canary.
  std::string stable_event_id;
  std::string stable_deploy_id;
  std::string stable_version;
  std::string stable_url;

  bool active = false;
  std::string canary_id;
  std::string deploy_id;
  uint32_t attempt = 0;
  std::string deploy_event_id;  // the canary's DeploySucceeded
  std::string version;
  std::string url;
  wharf::v1::CanaryStrategy strategy;
  wharf::v1::DeploySpec spec;
  uint32_t step = 0;
  uint32_t weight = 0;
  int64_t step_since_us = 0;  // when the current step was reached

  // Dubbo canaries: the rules wharf owns now, by node path (they outlive the
  // canary until removed, so an abort interrupted by a crash is finished).
  std::map<std::string, DubboRuleState> dubbo_rules;

  // How each finished canary ended: "promoted" / "aborted", by canary id.
  std::unordered_map<std::string, std::string> finished;

  const wharf::v1::CanaryStep* current_step() const {
    return step < static_cast<uint32_t>(strategy.steps_size()) ? &strategy.steps(step) : nullptr;
  }
};

// The canary id of a deploy attempt (stable under redelivery).
std::string canary_id_of(const std::string& deploy_id, uint32_t attempt);

// Folds canary events and the DeploySucceeded events that set the stable version.
void apply_canary(CanaryState& state, const wharf::v1::Envelope& event);

// Decides PromoteCanary, AbortCanary and the canary ExpireTimer; nullopt for
// any other command.
std::optional<Decision> decide_canary(const EnvironmentState& env, const Command& command,
                                      const Context& context);

// The events that follow a successful canary deploy (decided with the
// DeploySucceeded in the same append): CanaryStarted, then its first step.
// `succeeded_index` is that DeploySucceeded's index in the decision.
std::vector<NewEvent> canary_started(const EnvironmentState& env, const wharf::v1::DeploySpec& spec,
                                     const std::string& deploy_id, uint32_t attempt,
                                     const std::string& url, const std::string& requested_by,
                                     int succeeded_index);

}  // namespace wharf::engine
