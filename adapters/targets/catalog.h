#pragma once
// The targets read model (docs/targets.md): every target folded from the log
// with the Target aggregate's own apply (engine/target.h), plus which
// environments name each one (targets_named_by: EnvironmentSpec.target_ref
// and settings.dubbo_config_center, of ProjectCreated and
// EnvironmentDefined). In memory, like the API's AccessIndex: refresh()
// folds what the store appended since the last call. Thread-safe. The first
// refresh starts from the catalog's state snapshot when there is a usable one
// (events/state_snapshot.h, "target-catalog"); save_snapshot() writes one.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "engine/target.h"
#include "events/event_store.h"
#include "events/state_snapshot.h"

namespace wharf::targets {

class TargetCatalog {
 public:
  explicit TargetCatalog(const events::EventStore& store) : store_(store) {}

  // Folds every event up to the store's head. Cheap when nothing is new.
  void refresh();
  uint64_t position() const;

  static constexpr const char* kSnapshotName = "target-catalog";
  static constexpr uint32_t kSnapshotSchema = 1;
  // Writes the state snapshot at position() unless the last one is there.
  Expected<bool, std::string> save_snapshot(events::EventStore& store);
  const events::FoldCounters& fold_counters() const { return counters_; }

  // Registered targets, by name.
  std::vector<engine::TargetState> list() const;
  // A registered target; nullopt when unknown or removed.
  std::optional<engine::TargetState> get(const std::string& name) const;
  // The last credential version `name` ever had (0: none), removed or not.
  uint32_t last_credential_version(const std::string& name) const;
  // "<project>/<environment>" of every environment that names `name`
  // (targets_named_by), sorted.
  std::vector<std::string> used_by(const std::string& name) const;

 private:
  void apply(const events::Envelope& event);
  void use(const std::string& project, const wharf::v1::EnvironmentSpec& env);
  std::string encode_state() const;
  bool decode_state(const std::string& bytes);

  const events::EventStore& store_;
  mutable std::shared_mutex mu_;
  uint64_t cursor_ = 0;
  std::once_flag restored_;
  events::FoldCounters counters_;
  std::map<std::string, engine::TargetState> targets_;
  // "<project>/<env>" -> the targets it names.
  std::map<std::string, std::vector<std::string>> env_targets_;
};

}  // namespace wharf::targets
