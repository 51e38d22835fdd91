#pragma once
// PipelineRuns: each run with its step timeline (build attempts, deploys per
// environment, post-deploy tests, approval gates) and outcome.
//
// Keys (column family "runs"):
//   'r' [run] BE(pos) -> wharf.views.v1.RunView   the run's header (no steps,
//                        updated_position 0) as of pos; written when it
//                        changes, or when the event at pos changed nothing else
//   's' [run] BE(step index) BE(pos) -> wharf.views.v1.TimelineStep
//                        one step as of pos, written when that step changes:
//                        a run event writes the step it touches, not the run
//   'i' [project] BE(pos) -> run id   runs of a project, from the event naming the project
//   'a' BE(created_pos) -> run id                 every run, by start
//   'd' [deploy_id] -> run id                     routes DeployStarted/Progressed
//
// A run as of P (run_at): the header at P, each step at P, updated_position
// = the newest of their positions (the last event of the run up to P).
#include <optional>
#include <unordered_map>
#include <vector>

#include "projections/projection.h"
#include "projections/state_reader.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

class RunsProjection : public Projection {
 public:
  std::string name() const override { return "runs"; }
  uint32_t schema_version() const override { return 2; }
  void apply(const Envelope& event, StateBatch& state) override;
  void reset() override { memo_.clear(); }

 private:
  // The newest state of a run as stored (header and each step serialized),
  // so an event costs no reads or parses and only changed parts are written.
  struct Run {
    wharf::views::v1::RunView view;  // with its steps, updated_position 0
    std::string header;              // stored header bytes ("" = none yet)
    std::vector<std::string> steps;  // stored bytes per step
  };
  bool load(const std::string& run_id, StateBatch& state, Run& run);

  std::unordered_map<std::string, Run> memo_;  // bounded copy of stored state
};

// The run as of `position` (header, its steps, updated_position), read from
// the runs column family; false when the run does not exist yet.
bool run_at(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* runs, const std::string& run_id,
            uint64_t position, wharf::views::v1::RunView* out);
// The same from an already read header (its key's position is `header_position`).
void add_steps_at(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* runs, const std::string& run_id,
                  uint64_t position, uint64_t header_position, wharf::views::v1::RunView* out);

}  // namespace wharf::projections
