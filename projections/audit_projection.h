#pragma once
// Audit: every event as who / what / when / through which channel / on which
// project, with indexes for the filters. An RFC 3339 `at` maps to a log
// position by binary search over the entries (recorded_at never decreases
// along positions): O(log n) seeks, no key of its own.
//
// Keys (column family "audit"):
//   'e' BE(pos) -> wharf.views.v1.AuditEntry   (position is the key's, filled in on read)
//   'p' [project] BE(pos) -> ""                 by project
//   'a' [actor] BE(pos) -> ""                   by actor
//   'y' [type] BE(pos) -> ""                    by event type
//   'r' [run] -> project, 'd' [deploy] -> project   for events naming no project
#include <optional>
#include <unordered_map>

#include "projections/projection.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

class AuditProjection : public Projection {
 public:
  std::string name() const override { return "audit"; }
  uint32_t schema_version() const override { return 3; }
  void apply(const Envelope& event, StateBatch& state) override;
  void reset() override { memo_.clear(); }

 private:
  std::string project_of(const Envelope& event, StateBatch& state);
  void remember(StateBatch& state, const std::string& key, const std::string& project);
  std::optional<std::string> recall(StateBatch& state, const std::string& key);

  // Memo of the 'r'/'d' lookups (a bounded copy of stored state, cleared on
  // reset) so most events need no DB read to find their project.
  std::unordered_map<std::string, std::string> memo_;
};

// The audit entry stored at 'e' BE(position), as the API shows it.
bool read_audit_entry(const rocksdb::Slice& value, uint64_t position,
                      wharf::views::v1::AuditEntry* out);

// One human-readable line for an event ("deployed v12 to prod"), used by the
// audit view's text search and by `wharf audit report`.
std::string describe(const Envelope& event);

}  // namespace wharf::projections
