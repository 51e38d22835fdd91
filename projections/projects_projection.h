#pragma once
// Projects: configuration of each project (repository binding, environments
// in promotion order, pipeline template), from ProjectCreated,
// RepositoryBound, EnvironmentDefined and PipelineTemplateUpdated.
//
// Keys (column family "projects"):
//   'p' [project] BE(pos) -> wharf.views.v1.ProjectView   state as of pos
//   'c' BE(created_pos) [project] -> project id           creation order
#include "projections/projection.h"

namespace wharf::projections {

class ProjectsProjection : public Projection {
 public:
  std::string name() const override { return "projects"; }
  // 2: PipelineTemplateUpdated changes the template.
  uint32_t schema_version() const override { return 2; }
  void apply(const Envelope& event, StateBatch& state) override;
};

}  // namespace wharf::projections
