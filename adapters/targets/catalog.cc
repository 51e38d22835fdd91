#include "adapters/targets/catalog.h"

#include <mutex>

#include "events/catch_up.h"

namespace wharf::targets {

void TargetCatalog::refresh() {
  events::catch_up(store_, mu_, cursor_, [this](const events::Envelope& event) { apply(event); });
}

uint64_t TargetCatalog::position() const {
  std::shared_lock lock(mu_);
  return cursor_;
}

void TargetCatalog::use(const std::string& project, const wharf::v1::EnvironmentSpec& env) {
  const std::string key = project + "/" + env.name();
  if (env.target_ref().empty()) {
    env_target_.erase(key);
  } else {
    env_target_[key] = env.target_ref();
  }
}

void TargetCatalog::apply(const events::Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kProjectCreated:
      for (const auto& env : p.project_created().environments()) {
        use(p.project_created().project_id(), env);
      }
      return;
    case wharf::v1::Payload::kEnvironmentDefined:
      use(p.environment_defined().project_id(), p.environment_defined().environment());
      return;
    case wharf::v1::Payload::kTargetRegistered:
    case wharf::v1::Payload::kTargetUpdated:
    case wharf::v1::Payload::kTargetCredentialsRotated:
    case wharf::v1::Payload::kTargetRemoved:
    case wharf::v1::Payload::kTargetHealthChanged: {
      // The stream is "target-<name>"; the aggregate's apply is the one fold.
      const std::string name = event.stream_id().substr(sizeof("target-") - 1);
      engine::apply(targets_[name], event);
      return;
    }
    default:
      return;
  }
}

std::vector<engine::TargetState> TargetCatalog::list() const {
  std::shared_lock lock(mu_);
  std::vector<engine::TargetState> out;
  for (const auto& [name, t] : targets_) {
    if (t.registered) out.push_back(t);
  }
  return out;
}

std::optional<engine::TargetState> TargetCatalog::get(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = targets_.find(name);
  if (it == targets_.end() || !it->second.registered) return std::nullopt;
  return it->second;
}

uint32_t TargetCatalog::last_credential_version(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = targets_.find(name);
  return it == targets_.end() ? 0 : it->second.credential_version;
}

std::vector<std::string> TargetCatalog::used_by(const std::string& name) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [env, ref] : env_target_) {
    if (ref == name) out.push_back(env);
  }
  return out;
}

}  // namespace wharf::targets
