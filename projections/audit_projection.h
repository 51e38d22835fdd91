#pragma once
// Audit: every event as who / what / when / through which channel / on which
// project, with indexes for the filters, plus the time index that maps an
// RFC 3339 `at` to a log position.
//
// Keys (column family "audit"):
//   'e' BE(pos) -> wharf.views.v1.AuditEntry
//   't' BE(recorded_at_us) BE(pos) -> ""        time -> position (one seek)
//   'p' [project] BE(pos) -> ""                 by project
//   'a' [actor] BE(pos) -> ""                   by actor
//   'y' [type] BE(pos) -> ""                    by event type
//   'r' [run] -> project, 'd' [deploy] -> project   for events naming no project
#include "projections/projection.h"

namespace wharf::projections {

class AuditProjection : public Projection {
 public:
  std::string name() const override { return "audit"; }
  uint32_t schema_version() const override { return 1; }
  void apply(const Envelope& event, StateBatch& state) override;
};

// One human-readable line for an event ("deployed v12 to prod"), used by the
// audit view's text search and by `wharf audit report`.
std::string describe(const Envelope& event);

}  // namespace wharf::projections
