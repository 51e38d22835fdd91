#pragma once
// Permissions: who holds which role on which project, permission requests and
// their decisions, API tokens (users and admins, from TokenIssued).
//
// Keys (column family "permissions"):
//   'g' [project] [user] BE(pos) -> wharf.views.v1.RoleAssignment     as of pos
//   'm' [project] BE(first_pos) [user] -> user        members of a project
//   'u' [user] BE(first_pos) [project] -> project     projects of a user
//   'q' [request] BE(pos) -> wharf.views.v1.PermissionRequestView     as of pos
//   'o' [project] BE(requested_pos) -> request id     requests of a project
//   'O' BE(requested_pos) -> request id               every request
//   't' [token] BE(pos) -> wharf.views.v1.TokenView
//   'T' BE(pos) -> token id                           every token
//   'h' [token_sha256] -> token id                    authentication lookup
//   'A' [user] BE(pos) -> "1"                         user became admin at pos
#include "projections/projection.h"

namespace wharf::projections {

class PermissionsProjection : public Projection {
 public:
  std::string name() const override { return "permissions"; }
  uint32_t schema_version() const override { return 1; }
  void apply(const Envelope& event, StateBatch& state) override;
};

}  // namespace wharf::projections
