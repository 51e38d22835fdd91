#pragma once
// Which registered targets an environment names (docs/targets.md): its
// target_ref (where it deploys) and the settings that name a target of their
// own — settings.dubbo_config_center, the ZooKeeper a Dubbo canary writes its
// rules into (docs/canary.md#dubbo). The catalog's used_by, and so target
// removal, counts every one of them.
#include <string>
#include <vector>

#include "wharf/v1/project.pb.h"

namespace wharf::targets {

inline constexpr const char* kDubboConfigCenterSetting = "dubbo_config_center";

// The target names `env` references, without duplicates, target_ref first.
std::vector<std::string> targets_named_by(const wharf::v1::EnvironmentSpec& env);

}  // namespace wharf::targets
