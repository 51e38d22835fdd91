#pragma once
// VersionHistory: per project, each deployable version with its commit,
// Gerrit change/patchset, author, build, artifact digest, and every place and
// time it was deployed.
//
// Keys (column family "versions"):
//   'v' [project] [version] BE(pos) -> wharf.views.v1.VersionView  as of pos
//   'i' [project] BE(recorded_pos) -> version      versions of a project, by record
//   'b' [run] -> wharf.views.v1.BuildInfo           last successful build of a run
//   'r' [run] -> branch                             from CommitObserved
//   'q' [deploy_id] -> requested_by                 from DeployRequested
#include "projections/projection.h"

namespace wharf::projections {

class VersionsProjection : public Projection {
 public:
  std::string name() const override { return "versions"; }
  uint32_t schema_version() const override { return 1; }
  void apply(const Envelope& event, StateBatch& state) override;
};

}  // namespace wharf::projections
