#include "adapters/local/layout.h"

namespace wharf::local {

std::string safe_name(const std::string& id) {
  std::string out = id.empty() ? std::string("_") : id;
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (out[0] == '.') out[0] = '_';
  return out;
}

namespace {
std::string keyed(const std::string& id, uint32_t attempt) {
  return safe_name(id) + "-" + std::to_string(attempt);
}
}  // namespace

std::filesystem::path DataLayout::build_work_dir(const std::string& run_id,
                                                 uint32_t attempt) const {
  return root_ / "work" / keyed(run_id, attempt);
}
std::filesystem::path DataLayout::build_marker(const std::string& run_id, uint32_t attempt) const {
  return root_ / "builds" / (keyed(run_id, attempt) + ".json");
}
std::filesystem::path DataLayout::run_log_dir(const std::string& run_id) const {
  return root_ / "logs" / safe_name(run_id);
}
std::filesystem::path DataLayout::build_log(const std::string& run_id, uint32_t attempt) const {
  return run_log_dir(run_id) / ("build-" + std::to_string(attempt) + ".log");
}
std::filesystem::path DataLayout::tests_log(const std::string& run_id,
                                            const std::string& environment,
                                            uint32_t attempt) const {
  return run_log_dir(run_id) /
         ("tests-" + safe_name(environment) + "-" + std::to_string(attempt) + ".log");
}
std::filesystem::path DataLayout::tests_marker(const std::string& run_id,
                                               const std::string& environment,
                                               uint32_t attempt) const {
  return root_ / "tests" / (safe_name(run_id) + "-" + keyed(environment, attempt) + ".json");
}
std::filesystem::path DataLayout::deploy_log(const std::string& deploy_id,
                                             uint32_t attempt) const {
  return root_ / "logs" / "deploy" / (keyed(deploy_id, attempt) + ".log");
}
std::filesystem::path DataLayout::artifact_store() const {
  return root_ / "artifacts" / "sha256";
}
std::filesystem::path DataLayout::target_state(const std::string& project_id,
                                               const std::string& environment) const {
  return targets_dir() / safe_name(project_id) / (safe_name(environment) + ".json");
}
std::filesystem::path DataLayout::targets_dir() const { return root_ / "targets"; }
std::filesystem::path DataLayout::side_effects_log() const { return root_ / "sideeffects.log"; }
std::filesystem::path DataLayout::canary_router_ports() const {
  return root_ / "canary-router-ports.json";
}

}  // namespace wharf::local
