#pragma once
// Commands of the Target aggregate (stream "target-<name>", engine/target.h;
// docs/targets.md). Included by engine/commands.h into `Command`. None carries
// a credential: the caller seals it first (adapters/targets/sealed_store.h)
// under the version it names here, and the event records only that version.
#include <cstdint>
#include <string>
#include <vector>

#include "wharf/v1/targets.pb.h"

namespace wharf::engine {

// Registers a target. `credential_version` is the version the credential was
// sealed under: the next after the last one this name ever had (a removed
// and re-registered target continues the count), or 0 when it holds none.
struct RegisterTarget {
  wharf::v1::TargetSpec spec;
  uint32_t credential_version = 0;
  std::string reason;
};

// Replaces the non-secret part; the credential (and its kind) stays.
struct UpdateTarget {
  wharf::v1::TargetSpec spec;
  std::string reason;
};

// A new credential was sealed as `credential_version` (= current + 1).
struct RotateTargetCredentials {
  std::string name;
  uint32_t credential_version = 0;
  wharf::v1::CredentialKind credential = wharf::v1::CREDENTIAL_KIND_NONE;
  std::string reason;
};

// Removes a target. `used_by` ("<project>/<environment>", from the caller's
// read model) must be empty: a target in use cannot go.
struct RemoveTarget {
  std::string name;
  std::vector<std::string> used_by;
  std::string reason;
};

// What the reachability probe saw; an event only when it differs from the
// recorded verdict (reachable or not, or another server version).
struct ObserveTargetHealth {
  std::string name;
  bool reachable = false;
  std::string server_version;
  std::string error;
};

}  // namespace wharf::engine
