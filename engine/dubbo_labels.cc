#include "engine/dubbo_labels.h"

namespace wharf::engine {

bool dubbo_canary(const wharf::v1::DeploySpec& spec) {
  return spec.has_canary() && spec.canary().mode() == "dubbo";
}

std::string dubbo_canary_labels(const wharf::v1::DeploySpec& spec, const std::string& deploy_id) {
  const auto& settings = spec.target_settings();
  auto label = settings.find("dubbo_canary_label");
  std::string labels =
      label != settings.end() && !label->second.empty() ? label->second : "env=canary";
  if (auto it = spec.config().find("DUBBO_LABELS");
      it != spec.config().end() && !it->second.empty()) {
    labels = it->second + ";" + labels;
  }
  return labels + ";wharf_deploy=" + deploy_id;
}

}  // namespace wharf::engine
