#include "projections/audit_projection.h"
#include "projections/environments_projection.h"
#include "projections/insights_projection.h"
#include "projections/permissions_projection.h"
#include "projections/projection.h"
#include "projections/projects_projection.h"
#include "projections/runs_projection.h"
#include "projections/versions_projection.h"

namespace wharf::projections {

std::vector<std::unique_ptr<Projection>> make_projections() {
  std::vector<std::unique_ptr<Projection>> all;
  all.push_back(std::make_unique<ProjectsProjection>());
  all.push_back(std::make_unique<RunsProjection>());
  all.push_back(std::make_unique<VersionsProjection>());
  all.push_back(std::make_unique<EnvironmentsProjection>());
  all.push_back(std::make_unique<PermissionsProjection>());
  all.push_back(std::make_unique<AuditProjection>());
  all.push_back(std::make_unique<InsightsProjection>());
  return all;
}

std::vector<std::string> projection_names() {
  return {"projects", "runs", "versions", "environments", "permissions", "audit", "insights"};
}

}  // namespace wharf::projections
