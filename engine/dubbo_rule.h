#pragma once
// What the engine knows of a Dubbo config-center rule wharf owns
// (engine/canary.h, docs/canary.md#dubbo).
#include <cstdint>
#include <string>

namespace wharf::engine {

// A rule wharf owns in a Dubbo config center (DubboRuleWritten), until its
// DubboRuleRemoved; with the person's rule it replaced, if any.
struct DubboRuleState {
  std::string canary_id;
  std::string kind;
  std::string yaml;
  int32_t version = -1;  // -1: snapshotted, not yet written
  bool has_snapshot = false;
  std::string snapshot_yaml;
  int32_t snapshot_version = 0;
};

}  // namespace wharf::engine
