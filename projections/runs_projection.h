#pragma once
// PipelineRuns: each run with its step timeline (build attempts, deploys per
// environment, post-deploy tests, approval gates) and outcome.
//
// Keys (column family "runs"):
//   'r' [run] BE(pos) -> wharf.views.v1.RunView   state as of pos
//   'i' [project] BE(pos) -> run id   runs of a project, from the event naming the project
//   'a' BE(created_pos) -> run id                 every run, by start
//   'd' [deploy_id] -> run id                     routes DeployStarted/Progressed
#include "projections/projection.h"

namespace wharf::projections {

class RunsProjection : public Projection {
 public:
  std::string name() const override { return "runs"; }
  uint32_t schema_version() const override { return 1; }
  void apply(const Envelope& event, StateBatch& state) override;
};

}  // namespace wharf::projections
