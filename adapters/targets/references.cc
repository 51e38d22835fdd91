#include "adapters/targets/references.h"

#include <algorithm>

namespace wharf::targets {

std::vector<std::string> targets_named_by(const wharf::v1::EnvironmentSpec& env) {
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  add(env.target_ref());
  if (auto it = env.settings().find(kDubboConfigCenterSetting); it != env.settings().end()) {
    add(it->second);
  }
  return out;
}

}  // namespace wharf::targets
