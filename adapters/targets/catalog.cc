#include "adapters/targets/catalog.h"

#include <algorithm>
#include <mutex>

#include "adapters/targets/references.h"
#include "events/catch_up.h"
#include "events/hash_chain.h"
#include "wharf/v1/snapshot.pb.h"

namespace wharf::targets {

void TargetCatalog::refresh() {
  events::restore_once(store_, restored_, mu_, cursor_, kSnapshotName, kSnapshotSchema, counters_,
                       [this](const std::string& bytes) { return decode_state(bytes); });
  events::catch_up(
      store_, mu_, cursor_, [this](const events::Envelope& event) { apply(event); },
      "target catalog", counters_);
}

Expected<bool, std::string> TargetCatalog::save_snapshot(events::EventStore& store) {
  return events::save_model_snapshot(store, mu_, cursor_, kSnapshotName, kSnapshotSchema, counters_,
                                     [this] { return encode_state(); });
}

std::string TargetCatalog::encode_state() const {
  wharf::v1::TargetCatalogState state;
  for (const auto& [name, t] : targets_) {
    auto* out = state.add_targets();
    out->set_name(name);
    out->set_state_name(t.name);
    out->set_registered(t.registered);
    *out->mutable_spec() = t.spec;
    out->set_credential_version(t.credential_version);
    out->set_health_known(t.health_known);
    out->set_reachable(t.reachable);
    out->set_server_version(t.server_version);
    out->set_health_error(t.health_error);
    out->set_health_changed_at_us(t.health_changed_at_us);
  }
  // TargetCatalogState.env_target holds each environment's names joined by
  // ' ' (a target name has none): one name, as before, for most.
  for (const auto& [env, names] : env_targets_) {
    std::string joined;
    for (const auto& n : names) joined += (joined.empty() ? "" : " ") + n;
    (*state.mutable_env_target())[env] = joined;
  }
  return events::serialize_deterministic(state);
}

bool TargetCatalog::decode_state(const std::string& bytes) {
  wharf::v1::TargetCatalogState state;
  if (!state.ParseFromString(bytes)) return false;
  for (const auto& in : state.targets()) {
    auto& t = targets_[in.name()];
    t.name = in.state_name();
    t.registered = in.registered();
    t.spec = in.spec();
    t.credential_version = in.credential_version();
    t.health_known = in.health_known();
    t.reachable = in.reachable();
    t.server_version = in.server_version();
    t.health_error = in.health_error();
    t.health_changed_at_us = in.health_changed_at_us();
  }
  for (const auto& [env, joined] : state.env_target()) {
    auto& names = env_targets_[env];
    for (size_t start = 0; start < joined.size();) {
      const size_t end = std::min(joined.find(' ', start), joined.size());
      if (end > start) names.push_back(joined.substr(start, end - start));
      start = end + 1;
    }
  }
  return true;
}

uint64_t TargetCatalog::position() const {
  std::shared_lock lock(mu_);
  return cursor_;
}

void TargetCatalog::use(const std::string& project, const wharf::v1::EnvironmentSpec& env) {
  const std::string key = project + "/" + env.name();
  auto names = targets_named_by(env);
  if (names.empty()) {
    env_targets_.erase(key);
  } else {
    env_targets_[key] = std::move(names);
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
  for (const auto& [env, names] : env_targets_) {
    if (std::find(names.begin(), names.end(), name) != names.end()) out.push_back(env);
  }
  return out;
}

}  // namespace wharf::targets
