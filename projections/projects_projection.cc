#include "projections/projects_projection.h"

#include <algorithm>

#include "projections/keys.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

using keys::Key;
using wharf::views::v1::ProjectView;

namespace {

void define_environment(ProjectView& view, const wharf::v1::EnvironmentSpec& spec, uint32_t order) {
  auto* envs = view.mutable_environments();
  for (int i = 0; i < envs->size(); ++i) {
    if (envs->Get(i).name() == spec.name()) {
      envs->DeleteSubrange(i, 1);
      break;
    }
  }
  // Insert at `order` (clamped): append, then bubble it into place.
  *envs->Add() = spec;
  int at = std::min<int>(static_cast<int>(order), envs->size() - 1);
  for (int i = envs->size() - 1; i > at; --i) envs->SwapElements(i, i - 1);
}

}  // namespace

void ProjectsProjection::apply(const Envelope& event, StateBatch& state) {
  const auto& payload = event.payload();
  std::string project_id;
  switch (payload.kind_case()) {
    case wharf::v1::Payload::kProjectCreated: project_id = payload.project_created().project_id(); break;
    case wharf::v1::Payload::kRepositoryBound: project_id = payload.repository_bound().project_id(); break;
    case wharf::v1::Payload::kEnvironmentDefined:
      project_id = payload.environment_defined().project_id();
      break;
    case wharf::v1::Payload::kPipelineTemplateUpdated:
      project_id = payload.pipeline_template_updated().project_id();
      break;
    default: return;
  }
  const std::string entity = Key('p').add(project_id);
  ProjectView view;
  bool exists = state.latest_message(entity, &view);
  if (!exists) {
    view.set_project_id(project_id);
    view.set_created_at_us(event.recorded_at_us());
    view.set_created_position(event.position());
    view.set_created_by(event.actor().id());
    state.append(Key('c').pos(event.position()).add(project_id), project_id);
  }
  switch (payload.kind_case()) {
    case wharf::v1::Payload::kProjectCreated: {
      const auto& c = payload.project_created();
      view.set_name(c.name());
      view.set_owner(c.owner());
      *view.mutable_repository() = c.repository();
      *view.mutable_environments() = c.environments();
      *view.mutable_template_() = c.template_();
      break;
    }
    case wharf::v1::Payload::kRepositoryBound:
      *view.mutable_repository() = payload.repository_bound().repository();
      break;
    case wharf::v1::Payload::kEnvironmentDefined:
      define_environment(view, payload.environment_defined().environment(),
                         payload.environment_defined().order());
      break;
    case wharf::v1::Payload::kPipelineTemplateUpdated:
      *view.mutable_template_() = payload.pipeline_template_updated().template_();
      break;
    default: break;
  }
  view.set_updated_at_us(event.recorded_at_us());
  view.set_updated_position(event.position());
  state.put_version_message(entity, event.position(), view);
}

}  // namespace wharf::projections
