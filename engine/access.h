#pragma once
// The Access aggregate (stream "access-<project_id>"): who holds which role
// on a project, and which permission requests are pending. Whether the actor
// may grant is checked by the API (RBAC) before the command is issued.
#include <map>
#include <set>
#include <string>

#include "engine/decision.h"

namespace wharf::engine {

struct AccessState {
  std::string project_id;
  std::map<std::string, std::set<wharf::v1::Role>> roles;             // by user
  std::map<std::string, wharf::v1::PermissionRequested> pending;      // by request id
  std::set<std::string> decided_requests;                             // granted or denied
  std::set<std::string> ever_granted;  // "<user>#<role>", even if revoked since

  bool holds(const std::string& user, wharf::v1::Role role) const;
  // The user's highest role, ROLE_UNSPECIFIED when none.
  wharf::v1::Role highest_role(const std::string& user) const;
};

void apply(AccessState& state, const wharf::v1::Envelope& event);
inline AccessState evolve(AccessState state, const wharf::v1::Envelope& event) {
  apply(state, event);
  return state;
}
// Decides RequestPermission, GrantPermission, DenyPermission, RevokePermission.
Decision decide(const AccessState& state, const Command& command, const Context& context);

}  // namespace wharf::engine
