#pragma once
// The labels of a Dubbo canary instance (docs/canary.md#dubbo), one place for
// every target that starts one (local process, Kubernetes canary Deployment,
// Swarm canary service).
#include <string>

#include "wharf/v1/pipeline.pb.h"

namespace wharf::engine {

// Whether `spec` deploys the canary of a Dubbo canary (canary.mode "dubbo").
bool dubbo_canary(const wharf::v1::DeploySpec& spec);

// DUBBO_LABELS of the canary instance of `spec`'s deploy `deploy_id`: the
// labels the environment's config already gives its providers (config
// DUBBO_LABELS), the canary label (settings.dubbo_canary_label, default
// env=canary) the config-center rules select, and wharf_deploy=<deploy id>,
// which tells this canary from an earlier, promoted one that still carries
// the canary label.
std::string dubbo_canary_labels(const wharf::v1::DeploySpec& spec, const std::string& deploy_id);

}  // namespace wharf::engine
