#include "projections/versions_projection.h"

#include "projections/keys.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

using keys::Key;
using wharf::v1::Payload;
using namespace wharf::views::v1;

void VersionsProjection::apply(const Envelope& event, StateBatch& state) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kCommitObserved:
      state.put(Key('r').add(p.commit_observed().run_id()), p.commit_observed().branch());
      break;
    case Payload::kBuildStarted: {
      const auto& b = p.build_started();
      BuildInfo info;
      info.set_run_id(b.run_id());
      info.set_attempt(b.attempt());
      info.set_external_id(b.external_id());
      info.set_log_ref(b.log_ref());
      state.put(Key('b').add(b.run_id()), serialize(info));
      break;
    }
    case Payload::kBuildSucceeded: {
      const auto& b = p.build_succeeded();
      BuildInfo info;
      if (auto bytes = state.get(Key('b').add(b.run_id()))) info.ParseFromString(*bytes);
      if (info.attempt() != b.attempt()) info.Clear();
      info.set_run_id(b.run_id());
      info.set_attempt(b.attempt());
      info.set_duration_ms(b.duration_ms());
      state.put(Key('b').add(b.run_id()), serialize(info));
      break;
    }
    case Payload::kVersionRecorded: {
      const auto& v = p.version_recorded();
      const std::string entity = Key('v').add(v.project_id()).add(v.version());
      VersionView view;
      if (!state.latest_message(entity, &view)) {
        state.append(Key('i').add(v.project_id()).pos(event.position()), v.version());
        view.set_recorded_at_us(event.recorded_at_us());
        view.set_recorded_position(event.position());
      }
      view.set_project_id(v.project_id());
      view.set_version(v.version());
      view.set_run_id(v.run_id());
      view.set_commit_sha(v.commit_sha());
      view.set_branch(state.get(Key('r').add(v.run_id())).value_or(""));
      view.set_change_number(v.change_number());
      view.set_patchset(v.patchset());
      *view.mutable_author() = v.author();
      view.set_subject(v.subject());
      view.set_artifact_digest(v.artifact_digest());
      view.set_artifact_uri(v.artifact_uri());
      if (auto bytes = state.get(Key('b').add(v.run_id()))) {
        view.mutable_build()->ParseFromString(*bytes);
      } else {
        view.mutable_build()->set_run_id(v.run_id());
      }
      state.put_version_message(entity, event.position(), view);
      break;
    }
    case Payload::kDeployRequested:
      state.put(Key('q').add(p.deploy_requested().deploy_id()), p.deploy_requested().requested_by());
      break;
    case Payload::kDeploySucceeded: {
      const auto& d = p.deploy_succeeded();
      const std::string entity = Key('v').add(d.project_id()).add(d.spec().version());
      VersionView view;
      if (!state.latest_message(entity, &view)) return;  // a version this log never recorded
      auto* dep = view.add_deployments();
      dep->set_environment(d.environment());
      dep->set_deploy_id(d.deploy_id());
      dep->set_deployed_at_us(event.recorded_at_us());
      dep->set_position(event.position());
      dep->set_event_id(event.event_id());
      dep->set_requested_by(state.get(Key('q').add(d.deploy_id())).value_or(""));
      dep->set_rollback_id(d.rollback_id());
      dep->set_url(d.url());
      dep->set_run_id(d.run_id());
      state.put_version_message(entity, event.position(), view);
      break;
    }
    default: break;
  }
}

}  // namespace wharf::projections
