#pragma once
// Environments: per project and environment, the version serving now, the one
// before it, the deploy in flight, and the full history of deploys and
// rollbacks with who asked, who approved and why.
//
// Keys (column family "environments"):
//   's' [project] [env] BE(pos) -> wharf.views.v1.EnvironmentView   as of pos,
//        written when the view changes; stored without `in_flight` (it is
//        queue[0]) and with updated_* of its own write
//   'h' [project] [env] BE(pos) -> wharf.views.v1.EnvironmentEvent  history line
//        (project_id and environment are the key's, filled in on read)
//   'e' [project] BE(first_pos) BE(ordinal) -> env name   environments, in creation order
//   'g' [run] [env] -> approved_by                    opened approval gates
//
// An environment as of P (environment_at): the view at P, in_flight =
// queue[0], updated_* from the newest history line at P when it is newer
// (DeployStarted writes only its line).
#include <string>
#include <unordered_map>

#include "projections/projection.h"
#include "projections/state_reader.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

class EnvironmentsProjection : public Projection {
 public:
  std::string name() const override { return "environments"; }
  // 4: canary history lines; 5: an aborted canary is no longer current
  uint32_t schema_version() const override { return 5; }
  void apply(const Envelope& event, StateBatch& state) override;
  void reset() override { memo_.clear(); }

 private:
  // Newest stored view per 's' entity: a bounded copy of stored state.
  std::unordered_map<std::string, wharf::views::v1::EnvironmentView> memo_;
};

// The environment view as of `position` (see above); false when absent.
bool environment_at(StateReader& reader, const std::string& project_id,
                    const std::string& environment, uint64_t position,
                    wharf::views::v1::EnvironmentView* out);
// A stored history line as the API shows it.
void read_history_line(const rocksdb::Slice& value, const std::string& project_id,
                       const std::string& environment, wharf::views::v1::EnvironmentEvent* out);

}  // namespace wharf::projections
