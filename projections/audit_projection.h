#pragma once
// Audit: every event as who / what / when / through which channel / on which
// project, with indexes for the filters, and the time index that maps an
// RFC 3339 `at` to a log position (recorded_at never decreases along positions,
// so one key per distinct time suffices).
//
// Keys (column family "audit"):
//   'e' BE(pos) -> wharf.views.v1.AuditEntry
//   't' BE(recorded_at_us) -> BE(recorded_at_us) BE(first pos at that time)
//                                               time -> position: two seeks
//   'p' [project] BE(pos) -> ""                 by project
//   'a' [actor] BE(pos) -> ""                   by actor
//   'y' [type] BE(pos) -> ""                    by event type
//   'r' [run] -> project, 'd' [deploy] -> project   for events naming no project
#include <optional>
#include <unordered_map>

#include "projections/projection.h"

namespace wharf::projections {

class AuditProjection : public Projection {
 public:
  std::string name() const override { return "audit"; }
  uint32_t schema_version() const override { return 2; }
  void apply(const Envelope& event, StateBatch& state) override;
  void reset() override {
    memo_.clear();
    last_time_.reset();
  }

 private:
  std::string project_of(const Envelope& event, StateBatch& state);
  void remember(StateBatch& state, const std::string& key, const std::string& project);
  std::optional<std::string> recall(StateBatch& state, const std::string& key);
  void record_time(const Envelope& event, StateBatch& state);

  // Memo of the 'r'/'d' lookups (a bounded copy of stored state, cleared on
  // reset) so most events need no DB read to find their project.
  std::unordered_map<std::string, std::string> memo_;
  std::optional<int64_t> last_time_;  // recorded_at of the newest 't' key
};

// One human-readable line for an event ("deployed v12 to prod"), used by the
// audit view's text search and by `wharf audit report`.
std::string describe(const Envelope& event);

}  // namespace wharf::projections
