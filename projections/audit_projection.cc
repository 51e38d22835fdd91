#include "projections/audit_projection.h"

#include <cstring>

#include "projections/event_fields.h"
#include "projections/keys.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

using keys::Key;
using wharf::v1::Payload;

namespace {

const char* role_name(wharf::v1::Role r) {
  switch (r) {
    case wharf::v1::ROLE_VIEWER: return "viewer";
    case wharf::v1::ROLE_DEPLOYER: return "deployer";
    case wharf::v1::ROLE_OWNER: return "owner";
    default: return "no role";
  }
}

std::string short_sha(const std::string& sha) { return sha.substr(0, 12); }

}  // namespace

std::string AuditProjection::project_of(const Envelope& event, StateBatch& state) {
  const auto& p = event.payload();
  std::string project = payload_field(event, "project_id");
  if (!project.empty()) {
    // Remember which project a run or deploy belongs to, once, from the
    // events that open them.
    if (p.has_commit_observed() || p.has_pipeline_run_started()) {
      remember(state, Key('r').add(payload_field(event, "run_id")), project);
    } else if (p.has_deploy_requested()) {
      remember(state, Key('d').add(p.deploy_requested().deploy_id()), project);
    }
    return project;
  }
  std::string run = payload_field(event, "run_id");
  if (!run.empty()) {
    if (auto known = recall(state, Key('r').add(run))) return *known;
  }
  std::string deploy = payload_field(event, "deploy_id");
  if (!deploy.empty()) {
    if (auto known = recall(state, Key('d').add(deploy))) return *known;
  }
  for (const char* prefix : {"project-", "access-"}) {
    if (event.stream_id().starts_with(prefix)) return event.stream_id().substr(strlen(prefix));
  }
  return "";
}

void AuditProjection::remember(StateBatch& state, const std::string& key, const std::string& project) {
  state.append(key, project);
  if (memo_.size() > 200000) memo_.clear();
  memo_[key] = project;
}

std::optional<std::string> AuditProjection::recall(StateBatch& state, const std::string& key) {
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  auto value = state.get(key);
  if (value) {
    if (memo_.size() > 200000) memo_.clear();
    memo_[key] = *value;
  }
  return value;
}


std::string describe(const Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kProjectCreated:
      return "created project " + p.project_created().project_id() + " (" +
             p.project_created().name() + "), owner " + p.project_created().owner();
    case Payload::kRepositoryBound: return "bound repository of " + p.repository_bound().project_id();
    case Payload::kEnvironmentDefined:
      return "defined environment " + p.environment_defined().environment().name();
    case Payload::kPipelineTemplateUpdated:
      return "updated pipeline template of " + p.pipeline_template_updated().project_id();
    case Payload::kPermissionRequested:
      return p.permission_requested().user() + " requested " +
             role_name(p.permission_requested().role()) + ": " + p.permission_requested().reason();
    case Payload::kPermissionGranted:
      return "granted " + std::string(role_name(p.permission_granted().role())) + " to " +
             p.permission_granted().user();
    case Payload::kPermissionDenied:
      return "denied " + std::string(role_name(p.permission_denied().role())) + " to " +
             p.permission_denied().user() + ": " + p.permission_denied().reason();
    case Payload::kPermissionRevoked:
      return "revoked " + std::string(role_name(p.permission_revoked().role())) + " from " +
             p.permission_revoked().user() + ": " + p.permission_revoked().reason();
    case Payload::kTokenIssued:
      return std::string("issued ") + (p.token_issued().admin() ? "admin " : "") + "token " +
             p.token_issued().token_id() + " for " + p.token_issued().user();
    case Payload::kTokenRevoked:
      return "revoked token " + p.token_revoked().token_id() +
             (p.token_revoked().reason().empty() ? "" : ": " + p.token_revoked().reason());
    case Payload::kAccessDenied:
      return "access denied to " + p.access_denied().user() + " for " + p.access_denied().action() +
             " (needs " + role_name(p.access_denied().missing_role()) + ")";
    case Payload::kCommitObserved:
      return "observed commit " + short_sha(p.commit_observed().commit_sha()) + " on " +
             p.commit_observed().branch() + ": " + p.commit_observed().subject();
    case Payload::kPipelineRunStarted: return "started run " + p.pipeline_run_started().run_id();
    case Payload::kPipelineRunCompleted:
      return "run " + p.pipeline_run_completed().run_id() +
             (p.pipeline_run_completed().outcome() == wharf::v1::RUN_OUTCOME_SUCCEEDED
                  ? " succeeded"
                  : " failed: " + p.pipeline_run_completed().reason());
    case Payload::kPipelineRunCancelled:
      return "cancelled run " + p.pipeline_run_cancelled().run_id() + ": " +
             p.pipeline_run_cancelled().reason();
    case Payload::kBuildRequested:
      return "requested build attempt " + std::to_string(p.build_requested().attempt()) + " of " +
             short_sha(p.build_requested().commit_sha());
    case Payload::kBuildQueued: return "build queued " + p.build_queued().external_id();
    case Payload::kBuildStarted: return "build started " + p.build_started().external_id();
    case Payload::kBuildSucceeded: return "build produced " + p.build_succeeded().artifact_digest();
    case Payload::kBuildFailed: return "build failed: " + p.build_failed().reason();
    case Payload::kVersionRecorded:
      return "recorded version " + p.version_recorded().version() + " from " +
             short_sha(p.version_recorded().commit_sha());
    case Payload::kDeployRequested:
      return "requested deploy of " + p.deploy_requested().spec().version() + " to " +
             p.deploy_requested().environment() +
             (p.deploy_requested().rollback_id().empty() ? "" : " (rollback)");
    case Payload::kDeployStarted: return "deploy started in " + p.deploy_started().environment();
    case Payload::kDeployProgressed: return "deploy progress: " + p.deploy_progressed().message();
    case Payload::kDeploySucceeded:
      return "deployed " + p.deploy_succeeded().spec().version() + " to " +
             p.deploy_succeeded().environment();
    case Payload::kDeployFailed:
      return "deploy to " + p.deploy_failed().environment() + " failed: " + p.deploy_failed().reason();
    case Payload::kRollbackRequested:
      return "requested rollback of " + p.rollback_requested().environment() + " to " +
             (p.rollback_requested().target_version().empty()
                  ? p.rollback_requested().target_deploy_event_id()
                  : p.rollback_requested().target_version()) +
             ": " + p.rollback_requested().reason();
    case Payload::kStageDeployRequested:
      return "stage requests deploy of " + p.stage_deploy_requested().spec().version() + " to " +
             p.stage_deploy_requested().environment();
    case Payload::kStageDeployFinished:
      return "stage deploy to " + p.stage_deploy_finished().environment() +
             (p.stage_deploy_finished().succeeded() ? " finished"
                                                    : " failed: " + p.stage_deploy_finished().reason());
    case Payload::kTestsRequested: return "requested tests in " + p.tests_requested().environment();
    case Payload::kTestsPassed: return "tests passed in " + p.tests_passed().environment();
    case Payload::kTestsFailed:
      return "tests failed in " + p.tests_failed().environment() + ": " + p.tests_failed().reason();
    case Payload::kApprovalRequired:
      return "approval required for " + p.approval_required().environment();
    case Payload::kApprovalGranted:
      return p.approval_granted().approved_by() + " approved " + p.approval_granted().environment();
    case Payload::kStepTimedOut:
      return "step timed out after " + std::to_string(p.step_timed_out().timeout_s()) + "s";
    case Payload::kHealthChanged:
      return p.health_changed().environment() + " became " +
             (p.health_changed().to() == wharf::v1::HEALTH_STATE_HEALTHY ? "healthy" : "unhealthy") +
             ": " + p.health_changed().detail();
    case Payload::kTestCasesRequested:
      return "requested " + std::to_string(p.test_cases_requested().cases_size()) +
             " test case(s) in " + p.test_cases_requested().environment() + " (" +
             p.test_cases_requested().trigger() + ")";
    case Payload::kTestCasesFinished:
      return "test cases " + p.test_cases_finished().test_run_id() +
             (p.test_cases_finished().passed() ? " passed" : " failed: " + p.test_cases_finished().reason());
    case Payload::kServiceLogsOpened:
      return p.service_logs_opened().user() + " opened the logs of " +
             p.service_logs_opened().environment() + " (" + p.service_logs_opened().source() + ")";
    case Payload::kTerminalOpened:
      return p.terminal_opened().user() + " opened a terminal in " +
             p.terminal_opened().environment() + " (" + p.terminal_opened().where() + ")";
    case Payload::kTerminalClosed:
      return "terminal " + p.terminal_closed().session_id() + " closed after " +
             std::to_string(p.terminal_closed().duration_ms()) + " ms: " +
             p.terminal_closed().reason();
    default: break;  // kinds without a summary of their own (newer schema): the type
  }
  return event.type();
}

void AuditProjection::apply(const Envelope& event, StateBatch& state) {
  wharf::views::v1::AuditEntry entry;
  entry.set_event_id(event.event_id());
  entry.set_type(event.type().empty() ? wharf::events::payload_type(event.payload()) : event.type());
  entry.set_stream_id(event.stream_id());
  entry.set_actor(event.actor().id());
  entry.set_channel(event.actor().channel());
  entry.set_project_id(project_of(event, state));
  entry.set_occurred_at_us(event.occurred_at_us());
  entry.set_recorded_at_us(event.recorded_at_us());
  entry.set_summary(describe(event));
  entry.set_correlation_id(event.correlation_id());
  entry.set_causation_id(event.causation_id());

  const uint64_t pos = event.position();
  state.append(Key('e').pos(pos), serialize(entry));
  if (!entry.project_id().empty()) state.append(Key('p').add(entry.project_id()).pos(pos), "");
  state.append(Key('a').add(entry.actor()).pos(pos), "");
  state.append(Key('y').add(entry.type()).pos(pos), "");
}

bool read_audit_entry(const rocksdb::Slice& value, uint64_t position,
                      wharf::views::v1::AuditEntry* out) {
  if (!out->ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  out->set_position(position);
  return true;
}

}  // namespace wharf::projections
