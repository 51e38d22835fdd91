#pragma once
// Commands of canary releases (issue 12a, docs/canary.md), decided on the
// environment stream "env-<project_id>-<environment>" by engine/canary.h.
// Included by engine/commands.h into `Command`. A canary's pause ends through
// ExpireTimer{step = STEP_KIND_CANARY, deploy_id = canary id, attempt = step + 1}.
#include <string>

#include "wharf/v1/canary.pb.h"
#include "wharf/v1/envelope.pb.h"

namespace wharf::engine {

// Moves the active canary on: to its next step, or with `full` straight to
// 100% (promoted: the canary becomes the stable version). By a deployer.
struct PromoteCanary {
  std::string project_id;
  std::string environment;
  std::string canary_id;  // empty: the active one; else it must be the active one
  bool full = false;
};

// Sends all traffic back to the stable version and stops the canary: by a
// deployer, or by the automatic analysis (`automatic`, with what it measured).
struct AbortCanary {
  std::string project_id;
  std::string environment;
  std::string canary_id;  // empty: the active one
  std::string reason;
  bool automatic = false;
  wharf::v1::CanaryFigures figures;
};

// What a Dubbo canary target did in the config center (docs/canary.md#dubbo):
// `rule` holds one DubboRuleWritten, DubboRuleSnapshotted or DubboRuleRemoved.
// A write or snapshot is accepted for a canary this environment ran (a write
// that was in flight when a user aborted is still recorded, so its abort
// finds it); a removal only for a rule wharf owns, so each is recorded once.
struct RecordDubboRule {
  std::string project_id;
  std::string environment;
  wharf::v1::Payload rule;
};

}  // namespace wharf::engine
