#include "engine/run.h"

#include <fnmatch.h>

#include <optional>

#include "engine/engine.h"
#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;
using wharf::v1::EnvironmentSpec;

const std::string kEmpty;

int stage_index(const RunState& run, const std::string& environment) {
  for (size_t i = 0; i < run.stages.size(); ++i) {
    if (run.stages[i].name() == environment) return static_cast<int>(i);
  }
  return -1;
}

std::string attempt_text(uint32_t attempt) { return "attempt " + std::to_string(attempt); }

// Where the run is, for messages: "building (attempt 2)", "cancelled", ...
std::string describe(const RunState& run) {
  switch (run.status) {
    case RunStatus::kNone: return "unknown";
    case RunStatus::kSucceeded: return "succeeded";
    case RunStatus::kCancelled: return "cancelled";
    case RunStatus::kAwaitingApproval: return "waiting for approval before " + run.environment();
    case RunStatus::kFailed:
    case RunStatus::kRunning: break;
  }
  std::string what;
  switch (run.step) {
    case RunStep::kBuild: what = "building"; break;
    case RunStep::kDeploy: what = "deploying to " + run.environment(); break;
    case RunStep::kTests: what = "testing in " + run.environment(); break;
    case RunStep::kApproval: what = "past the gate before " + run.environment(); break;
    case RunStep::kNone: what = "starting"; break;
  }
  what += " (" + attempt_text(run.attempt) + ")";
  return run.status == RunStatus::kFailed ? "failed " + what : what;
}

NewEvent event_for(const RunState& run) {
  NewEvent event;
  event.correlation_id = run.run_id;
  return event;
}

void complete(const RunState& run, std::vector<NewEvent>& out, wharf::v1::RunOutcome outcome,
              std::string reason) {
  NewEvent e = event_for(run);
  auto* c = e.payload.mutable_pipeline_run_completed();
  c->set_run_id(run.run_id);
  c->set_project_id(run.project_id);
  c->set_outcome(outcome);
  c->set_reason(std::move(reason));
  out.push_back(std::move(e));
}

struct Version {
  const std::string& version;
  const std::string& digest;
  const std::string& uri;
};

wharf::v1::DeploySpec make_spec(const wharf::v1::PipelineTemplate& pipeline,
                                const EnvironmentSpec& stage, const Version& v) {
  wharf::v1::DeploySpec spec;
  spec.set_version(v.version);
  spec.set_artifact_digest(v.digest);
  spec.set_artifact_uri(v.uri);
  *spec.mutable_config() = pipeline.config();
  spec.set_replicas(stage.replicas() == 0 ? 1 : stage.replicas());
  spec.set_start_command(pipeline.start_command());
  spec.set_health_path(pipeline.health_path());
  spec.set_target(stage.target());
  *spec.mutable_target_settings() = stage.settings();
  spec.set_target_ref(stage.target_ref());
  if (stage.has_canary()) *spec.mutable_canary() = stage.canary();
  return spec;
}

void request_stage_deploy(const RunState& run, int stage, uint32_t attempt, const Version& v,
                          std::vector<NewEvent>& out) {
  const EnvironmentSpec& env = run.stages[static_cast<size_t>(stage)];
  NewEvent e = event_for(run);
  auto* d = e.payload.mutable_stage_deploy_requested();
  d->set_run_id(run.run_id);
  d->set_project_id(run.project_id);
  d->set_environment(env.name());
  d->set_deploy_id(stage_deploy_id(run.run_id, env.name()));
  d->set_attempt(attempt);
  *d->mutable_spec() = make_spec(run.pipeline, env, v);
  out.push_back(std::move(e));
}

// The run finished stage `done` (-1: the build); emit what comes next.
void advance(const RunState& run, int done, const Version& v, std::vector<NewEvent>& out) {
  size_t next = static_cast<size_t>(done + 1);
  if (next >= run.stages.size()) {
    complete(run, out, wharf::v1::RUN_OUTCOME_SUCCEEDED,
             run.stages.empty() ? "built; the project has no environments"
                                : "deployed to all " + std::to_string(run.stages.size()) +
                                      " environments");
    return;
  }
  const EnvironmentSpec& env = run.stages[next];
  if (env.requires_approval()) {
    NewEvent e = event_for(run);
    auto* a = e.payload.mutable_approval_required();
    a->set_run_id(run.run_id);
    a->set_project_id(run.project_id);
    a->set_environment(env.name());
    out.push_back(std::move(e));
  } else if (env.auto_deploy()) {
    request_stage_deploy(run, static_cast<int>(next), 1, v, out);
  } else {
    complete(run, out, wharf::v1::RUN_OUTCOME_SUCCEEDED,
             "stopped before " + env.name() + ": auto-deploy is off there; deploy it manually");
  }
}

Version version_of(const RunState& run) {
  return Version{run.version, run.artifact_digest, run.artifact_uri};
}

void request_build(const RunState& run, uint32_t attempt, std::vector<NewEvent>& out) {
  NewEvent e = event_for(run);
  auto* b = e.payload.mutable_build_requested();
  b->set_run_id(run.run_id);
  b->set_project_id(run.project_id);
  b->set_attempt(attempt);
  b->set_commit_sha(run.commit_sha);
  *b->mutable_step() = run.build_step;
  b->set_repository(run.repository);
  out.push_back(std::move(e));
}

void request_tests(const RunState& run, int stage, uint32_t attempt, const std::string& url,
                   std::vector<NewEvent>& out) {
  const EnvironmentSpec& env = run.stages[static_cast<size_t>(stage)];
  NewEvent e = event_for(run);
  auto* t = e.payload.mutable_tests_requested();
  t->set_run_id(run.run_id);
  t->set_project_id(run.project_id);
  t->set_environment(env.name());
  t->set_attempt(attempt);
  *t->mutable_suites() = env.post_deploy_tests();
  t->set_target_url(url);
  out.push_back(std::move(e));
}

Rejection not_found(const std::string& run_id) {
  return Rejection{Code::kNotFound, "run " + run_id + " does not exist"};
}

// Checks that a report about `step` (in `environment`, attempt `attempt`)
// concerns the step the run is at and that this step is still open.
std::optional<Rejection> check_open_step(const RunState& run, const std::string& run_id,
                                         RunStep step, const std::string& environment,
                                         uint32_t attempt, const char* action) {
  if (run.status == RunStatus::kNone) return not_found(run_id);
  if (run.status == RunStatus::kCancelled || run.status == RunStatus::kSucceeded) {
    return Rejection{Code::kStale,
                     "run " + run_id + " is " + describe(run) + "; cannot " + action};
  }
  bool same_step = run.step == step && run.attempt == attempt &&
                   (step == RunStep::kBuild || run.environment() == environment);
  if (!same_step) {
    return Rejection{Code::kStale, "run " + run_id + " is " + describe(run) + "; cannot " +
                                       action + " for " + attempt_text(attempt) +
                                       (environment.empty() ? "" : " in " + environment)};
  }
  if (run.phase == StepPhase::kSucceeded || run.phase == StepPhase::kFailed) {
    return Rejection{Code::kStale, "run " + run_id + ": " + attempt_text(attempt) +
                                       " already finished; cannot " + action};
  }
  return std::nullopt;
}

bool branch_matches(const wharf::v1::RepositoryBinding& binding, const std::string& branch) {
  if (branch.empty()) return true;
  if (binding.has_local_git()) {
    return binding.local_git().branch().empty() || binding.local_git().branch() == branch;
  }
  if (binding.has_gerrit()) {
    const auto& filters = binding.gerrit().branches();
    if (filters.empty()) return true;
    for (const auto& f : filters) {
      if (f == branch || fnmatch(f.c_str(), branch.c_str(), 0) == 0) return true;
    }
    return false;
  }
  return true;
}

std::string repository_of(const wharf::v1::RepositoryBinding& binding) {
  if (binding.has_local_git()) return binding.local_git().path();
  if (binding.has_gerrit()) return binding.gerrit().project();
  return "";
}

Decision decide_observe(const RunState& run, const ObserveCommit& c, const ProjectState* project) {
  if (project == nullptr || !project->exists) {
    return reject(Code::kNotFound, "project " + c.project_id + " does not exist");
  }
  if (c.commit_sha.empty()) return reject(Code::kInvalidArgument, "the commit has no sha");
  if (run.status != RunStatus::kNone) return std::vector<NewEvent>{};  // seen before
  if (!branch_matches(project->repository, c.branch)) {
    return reject(Code::kInvalidArgument, "branch " + c.branch + " is not watched by project " +
                                              c.project_id);
  }
  std::string run_id = c.run_id.empty() ? run_id_of(c) : c.run_id;
  std::string dedup = c.dedup_key.empty() ? c.source + ":" + c.commit_sha : c.dedup_key;
  std::vector<NewEvent> out;
  out.reserve(3);

  NewEvent observed;
  observed.correlation_id = run_id;
  observed.event_id = name_uuid("commit/" + c.project_id + "/" + dedup);
  auto* o = observed.payload.mutable_commit_observed();
  o->set_project_id(c.project_id);
  o->set_run_id(run_id);
  o->set_commit_sha(c.commit_sha);
  o->set_branch(c.branch);
  o->set_ref(c.ref);
  o->set_change_number(c.change_number);
  o->set_patchset(c.patchset);
  *o->mutable_author() = c.author;
  o->set_subject(c.subject);
  o->set_source(c.source);
  o->set_dedup_key(dedup);
  out.push_back(std::move(observed));

  NewEvent started;
  started.correlation_id = run_id;
  started.caused_by = 0;
  auto* s = started.payload.mutable_pipeline_run_started();
  s->set_run_id(run_id);
  s->set_project_id(c.project_id);
  s->set_commit_sha(c.commit_sha);
  for (const auto& env : project->environments) {
    s->add_environments(env.name());
    *s->add_stages() = env;
  }
  *s->mutable_template_() = project->pipeline;
  out.push_back(std::move(started));

  NewEvent build;
  build.correlation_id = run_id;
  build.caused_by = 0;
  auto* b = build.payload.mutable_build_requested();
  b->set_run_id(run_id);
  b->set_project_id(c.project_id);
  b->set_attempt(1);
  b->set_commit_sha(c.commit_sha);
  *b->mutable_step() = project->pipeline.build();
  b->set_repository(repository_of(project->repository));
  out.push_back(std::move(build));
  return out;
}

Decision retry(const RunState& run, const std::string& run_id, RunStep only, const char* action) {
  if (run.status == RunStatus::kNone) return unexpected(not_found(run_id));
  if (run.status != RunStatus::kFailed) {
    return reject(Code::kInvalidTransition, "run " + run_id + " is " + describe(run) +
                                                "; only a failed step can be " + action);
  }
  if (only != RunStep::kNone && run.step != only) {
    return reject(Code::kInvalidTransition,
                  "run " + run_id + " is " + describe(run) + "; its build did not fail");
  }
  std::vector<NewEvent> out;
  uint32_t next = run.attempt + 1;
  switch (run.step) {
    case RunStep::kBuild: request_build(run, next, out); break;
    case RunStep::kDeploy: request_stage_deploy(run, run.stage, next, version_of(run), out); break;
    case RunStep::kTests: request_tests(run, run.stage, next, run.target_url, out); break;
    default:
      return reject(Code::kInvalidTransition, "run " + run_id + " is " + describe(run) +
                                                  "; there is no step to retry");
  }
  return out;
}

Decision decide_build_progress(const RunState& run, const RecordBuildProgress& c) {
  if (auto r = check_open_step(run, c.run_id, RunStep::kBuild, "", c.attempt,
                               "record build progress")) {
    return unexpected(*r);
  }
  std::vector<NewEvent> out;
  using Kind = RecordBuildProgress::Kind;
  if (c.kind == Kind::kQueued && run.phase == StepPhase::kRequested) {
    NewEvent e = event_for(run);
    auto* q = e.payload.mutable_build_queued();
    q->set_run_id(c.run_id);
    q->set_attempt(c.attempt);
    q->set_external_id(c.external_id);
    out.push_back(std::move(e));
  } else if (c.kind == Kind::kStarted && run.phase != StepPhase::kStarted) {
    NewEvent e = event_for(run);
    auto* s = e.payload.mutable_build_started();
    s->set_run_id(c.run_id);
    s->set_attempt(c.attempt);
    s->set_external_id(c.external_id);
    s->set_log_ref(c.log_ref);
    out.push_back(std::move(e));
  }
  // kProgress, or a repeated report: nothing new to record.
  return out;
}

Decision decide_build_result(const RunState& run, const RecordBuildResult& c) {
  if (auto r = check_open_step(run, c.run_id, RunStep::kBuild, "", c.attempt,
                               "record build result")) {
    return unexpected(*r);
  }
  std::vector<NewEvent> out;
  if (!c.succeeded) {
    NewEvent e = event_for(run);
    auto* f = e.payload.mutable_build_failed();
    f->set_run_id(c.run_id);
    f->set_attempt(c.attempt);
    f->set_reason(c.reason);
    f->set_exit_code(c.exit_code);
    out.push_back(std::move(e));
    complete(run, out, wharf::v1::RUN_OUTCOME_FAILED, "build failed: " + c.reason);
    return out;
  }
  if (c.artifact_digest.empty()) {
    return reject(Code::kInvalidArgument, "a successful build needs an artifact digest");
  }
  NewEvent e = event_for(run);
  auto* s = e.payload.mutable_build_succeeded();
  s->set_run_id(c.run_id);
  s->set_attempt(c.attempt);
  s->set_artifact_digest(c.artifact_digest);
  s->set_artifact_uri(c.artifact_uri);
  s->set_duration_ms(c.duration_ms);
  out.push_back(std::move(e));

  NewEvent v = event_for(run);
  auto* rec = v.payload.mutable_version_recorded();
  rec->set_project_id(run.project_id);
  rec->set_run_id(c.run_id);
  rec->set_version(c.artifact_digest);
  rec->set_artifact_digest(c.artifact_digest);
  rec->set_artifact_uri(c.artifact_uri);
  rec->set_commit_sha(run.commit_sha);
  rec->set_change_number(run.commit.change_number());
  rec->set_patchset(run.commit.patchset());
  *rec->mutable_author() = run.commit.author();
  rec->set_subject(run.commit.subject());
  v.caused_by = 0;
  out.push_back(std::move(v));
  advance(run, -1, Version{c.artifact_digest, c.artifact_digest, c.artifact_uri}, out);
  return out;
}

Decision decide_stage_result(const RunState& run, const RecordStageDeployResult& c) {
  if (auto r = check_open_step(run, c.run_id, RunStep::kDeploy, c.environment, c.attempt,
                               "record the deploy result")) {
    return unexpected(*r);
  }
  if (c.deploy_id != run.deploy_id) {
    return reject(Code::kStale, "deploy " + c.deploy_id + " is not run " + c.run_id +
                                    "'s deploy to " + c.environment);
  }
  std::vector<NewEvent> out;
  NewEvent e = event_for(run);
  auto* f = e.payload.mutable_stage_deploy_finished();
  f->set_run_id(c.run_id);
  f->set_environment(c.environment);
  f->set_deploy_id(c.deploy_id);
  f->set_attempt(c.attempt);
  f->set_succeeded(c.succeeded);
  f->set_url(c.url);
  f->set_reason(c.reason);
  f->set_deploy_event_id(c.deploy_event_id);
  out.push_back(std::move(e));
  if (!c.succeeded) {
    complete(run, out, wharf::v1::RUN_OUTCOME_FAILED,
             "deploy to " + c.environment + " failed: " + c.reason);
    return out;
  }
  if (run.stages[static_cast<size_t>(run.stage)].post_deploy_tests_size() > 0) {
    request_tests(run, run.stage, 1, c.url, out);
  } else {
    advance(run, run.stage, version_of(run), out);
  }
  return out;
}

Decision decide_test_result(const RunState& run, const RecordTestResult& c) {
  if (auto r = check_open_step(run, c.run_id, RunStep::kTests, c.environment, c.attempt,
                               "record test result")) {
    return unexpected(*r);
  }
  std::vector<NewEvent> out;
  NewEvent e = event_for(run);
  if (c.passed) {
    auto* p = e.payload.mutable_tests_passed();
    p->set_run_id(c.run_id);
    p->set_environment(c.environment);
    p->set_attempt(c.attempt);
    for (const auto& r : c.results) *p->add_results() = r;
    out.push_back(std::move(e));
    advance(run, run.stage, version_of(run), out);
  } else {
    auto* f = e.payload.mutable_tests_failed();
    f->set_run_id(c.run_id);
    f->set_environment(c.environment);
    f->set_attempt(c.attempt);
    for (const auto& r : c.results) *f->add_results() = r;
    f->set_reason(c.reason);
    out.push_back(std::move(e));
    complete(run, out, wharf::v1::RUN_OUTCOME_FAILED,
             "tests in " + c.environment + " failed: " + c.reason);
  }
  return out;
}

Decision decide_run_tests(const RunState& run, const RunTests& c) {
  if (run.status == RunStatus::kNone) return unexpected(not_found(c.run_id));
  int stage = stage_index(run, c.environment);
  if (stage < 0) {
    return reject(Code::kInvalidArgument,
                  "run " + c.run_id + " has no environment " + c.environment);
  }
  if (run.stages[static_cast<size_t>(stage)].post_deploy_tests_size() == 0) {
    return reject(Code::kInvalidArgument, "environment " + c.environment +
                                              " has no post-deploy tests");
  }
  if (run.status != RunStatus::kFailed || run.step != RunStep::kTests || run.stage != stage) {
    return reject(Code::kInvalidTransition, "run " + c.run_id + " is " + describe(run) +
                                                "; tests in " + c.environment +
                                                " can be run again only after they failed");
  }
  return retry(run, c.run_id, RunStep::kTests, "retried");
}

Decision decide_approve(const RunState& run, const Approve& c, const Context& ctx) {
  if (run.status == RunStatus::kNone) return unexpected(not_found(c.run_id));
  if (run.status != RunStatus::kAwaitingApproval || run.environment() != c.environment) {
    return reject(Code::kInvalidTransition, "run " + c.run_id + " is " + describe(run) +
                                                "; it is not waiting for approval before " +
                                                c.environment);
  }
  std::vector<NewEvent> out;
  NewEvent e = event_for(run);
  auto* g = e.payload.mutable_approval_granted();
  g->set_run_id(c.run_id);
  g->set_environment(c.environment);
  g->set_approved_by(ctx.actor.id());
  g->set_comment(c.comment);
  out.push_back(std::move(e));
  request_stage_deploy(run, run.stage, 1, version_of(run), out);
  return out;
}

Decision decide_cancel(const RunState& run, const CancelRun& c, const Context& ctx) {
  if (run.status == RunStatus::kNone) return unexpected(not_found(c.run_id));
  if (run.status == RunStatus::kCancelled || run.status == RunStatus::kSucceeded) {
    return reject(Code::kInvalidTransition,
                  "run " + c.run_id + " is " + describe(run) + "; nothing to cancel");
  }
  std::vector<NewEvent> out;
  NewEvent e = event_for(run);
  auto* x = e.payload.mutable_pipeline_run_cancelled();
  x->set_run_id(c.run_id);
  x->set_project_id(run.project_id);
  x->set_reason(c.reason);
  x->set_cancelled_by(ctx.actor.id());
  out.push_back(std::move(e));
  return out;
}

Decision decide_timer(const RunState& run, const ExpireTimer& c) {
  RunStep step = c.step == wharf::v1::STEP_KIND_BUILD ? RunStep::kBuild : RunStep::kTests;
  if (check_open_step(run, c.run_id, step, c.environment, c.attempt, "time out")) {
    return std::vector<NewEvent>{};  // the step ended before its timer: nothing to do
  }
  std::vector<NewEvent> out;
  NewEvent t = event_for(run);
  auto* s = t.payload.mutable_step_timed_out();
  s->set_run_id(c.run_id);
  s->set_step(c.step);
  s->set_environment(c.environment);
  s->set_attempt(c.attempt);
  s->set_timeout_s(c.timeout_s);
  out.push_back(std::move(t));
  std::string reason = "timed out after " + std::to_string(c.timeout_s) + "s";
  NewEvent f = event_for(run);
  f.caused_by = 0;
  if (step == RunStep::kBuild) {
    auto* b = f.payload.mutable_build_failed();
    b->set_run_id(c.run_id);
    b->set_attempt(c.attempt);
    b->set_reason(reason);
    b->set_timed_out(true);
    out.push_back(std::move(f));
    complete(run, out, wharf::v1::RUN_OUTCOME_FAILED, "build " + reason);
  } else {
    auto* x = f.payload.mutable_tests_failed();
    x->set_run_id(c.run_id);
    x->set_environment(c.environment);
    x->set_attempt(c.attempt);
    x->set_reason(reason);
    out.push_back(std::move(f));
    complete(run, out, wharf::v1::RUN_OUTCOME_FAILED, "tests in " + c.environment + " " + reason);
  }
  return out;
}

// Moves the cursor when a step-opening event arrives.
void open_step(RunState& run, RunStep step, int stage, uint32_t attempt, int64_t at_us) {
  run.status = RunStatus::kRunning;
  run.step = step;
  run.stage = stage;
  run.attempt = attempt;
  run.phase = StepPhase::kRequested;
  run.step_since_us = at_us;
  run.failure_reason.clear();
}

bool is_current(const RunState& run, RunStep step, uint32_t attempt) {
  return run.step == step && run.attempt == attempt;
}

}  // namespace

const std::string& RunState::environment() const {
  if (stage < 0 || static_cast<size_t>(stage) >= stages.size()) return kEmpty;
  return stages[static_cast<size_t>(stage)].name();
}

std::string stage_deploy_id(const std::string& run_id, const std::string& environment) {
  return run_id + "." + environment;
}

wharf::v1::DeploySpec stage_deploy_spec(const RunState& run, const EnvironmentSpec& stage) {
  return make_spec(run.pipeline, stage, version_of(run));
}

void apply(RunState& run, const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  const int64_t at = event.occurred_at_us();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kCommitObserved:
      run.commit = p.commit_observed();
      run.run_id = run.commit.run_id();
      run.project_id = run.commit.project_id();
      run.commit_sha = run.commit.commit_sha();
      break;
    case wharf::v1::Payload::kPipelineRunStarted: {
      const auto& s = p.pipeline_run_started();
      run.status = RunStatus::kRunning;
      run.run_id = s.run_id();
      run.project_id = s.project_id();
      run.commit_sha = s.commit_sha();
      run.stages.assign(s.stages().begin(), s.stages().end());
      run.pipeline = s.template_();
      break;
    }
    case wharf::v1::Payload::kBuildRequested: {
      const auto& b = p.build_requested();
      open_step(run, RunStep::kBuild, -1, b.attempt(), at);
      run.build_step = b.step();
      run.repository = b.repository();
      break;
    }
    case wharf::v1::Payload::kBuildQueued:
      if (is_current(run, RunStep::kBuild, p.build_queued().attempt())) {
        run.phase = StepPhase::kQueued;
      }
      break;
    case wharf::v1::Payload::kBuildStarted:
      if (is_current(run, RunStep::kBuild, p.build_started().attempt())) {
        run.phase = StepPhase::kStarted;
      }
      break;
    case wharf::v1::Payload::kBuildSucceeded:
      if (is_current(run, RunStep::kBuild, p.build_succeeded().attempt())) {
        run.phase = StepPhase::kSucceeded;
      }
      break;
    case wharf::v1::Payload::kBuildFailed:
      if (is_current(run, RunStep::kBuild, p.build_failed().attempt())) {
        run.phase = StepPhase::kFailed;
        run.failure_reason = p.build_failed().reason();
      }
      break;
    case wharf::v1::Payload::kVersionRecorded:
      run.version = p.version_recorded().version();
      run.artifact_digest = p.version_recorded().artifact_digest();
      run.artifact_uri = p.version_recorded().artifact_uri();
      break;
    case wharf::v1::Payload::kApprovalRequired:
      open_step(run, RunStep::kApproval, stage_index(run, p.approval_required().environment()), 0,
                at);
      run.status = RunStatus::kAwaitingApproval;
      break;
    case wharf::v1::Payload::kApprovalGranted:
      run.status = RunStatus::kRunning;
      run.phase = StepPhase::kSucceeded;
      break;
    case wharf::v1::Payload::kStageDeployRequested: {
      const auto& d = p.stage_deploy_requested();
      open_step(run, RunStep::kDeploy, stage_index(run, d.environment()), d.attempt(), at);
      run.deploy_id = d.deploy_id();
      run.target_url.clear();
      break;
    }
    case wharf::v1::Payload::kStageDeployFinished: {
      const auto& f = p.stage_deploy_finished();
      if (is_current(run, RunStep::kDeploy, f.attempt())) {
        run.phase = f.succeeded() ? StepPhase::kSucceeded : StepPhase::kFailed;
        run.target_url = f.url();
        if (!f.succeeded()) run.failure_reason = f.reason();
      }
      break;
    }
    case wharf::v1::Payload::kTestsRequested: {
      const auto& t = p.tests_requested();
      open_step(run, RunStep::kTests, stage_index(run, t.environment()), t.attempt(), at);
      run.target_url = t.target_url();
      break;
    }
    case wharf::v1::Payload::kTestsPassed:
      if (is_current(run, RunStep::kTests, p.tests_passed().attempt())) {
        run.phase = StepPhase::kSucceeded;
      }
      break;
    case wharf::v1::Payload::kTestsFailed:
      if (is_current(run, RunStep::kTests, p.tests_failed().attempt())) {
        run.phase = StepPhase::kFailed;
        run.failure_reason = p.tests_failed().reason();
      }
      break;
    case wharf::v1::Payload::kPipelineRunCompleted:
      if (p.pipeline_run_completed().outcome() == wharf::v1::RUN_OUTCOME_SUCCEEDED) {
        run.status = RunStatus::kSucceeded;
      } else {
        run.status = RunStatus::kFailed;
        run.failure_reason = p.pipeline_run_completed().reason();
      }
      break;
    case wharf::v1::Payload::kPipelineRunCancelled:
      run.status = RunStatus::kCancelled;
      break;
    default:
      break;
  }
}

Decision decide(const RunState& run, const Command& command, const Context& context,
                const ProjectState* project) {
  return std::visit(
      [&](const auto& c) -> Decision {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ObserveCommit>) {
          return decide_observe(run, c, project);
        } else if constexpr (std::is_same_v<T, RequestBuild>) {
          return retry(run, c.run_id, RunStep::kBuild, "rebuilt");
        } else if constexpr (std::is_same_v<T, RetryStep>) {
          return retry(run, c.run_id, RunStep::kNone, "retried");
        } else if constexpr (std::is_same_v<T, RecordBuildProgress>) {
          return decide_build_progress(run, c);
        } else if constexpr (std::is_same_v<T, RecordBuildResult>) {
          return decide_build_result(run, c);
        } else if constexpr (std::is_same_v<T, RecordStageDeployResult>) {
          return decide_stage_result(run, c);
        } else if constexpr (std::is_same_v<T, RunTests>) {
          return decide_run_tests(run, c);
        } else if constexpr (std::is_same_v<T, RecordTestResult>) {
          return decide_test_result(run, c);
        } else if constexpr (std::is_same_v<T, Approve>) {
          return decide_approve(run, c, context);
        } else if constexpr (std::is_same_v<T, CancelRun>) {
          return decide_cancel(run, c, context);
        } else if constexpr (std::is_same_v<T, ExpireTimer>) {
          if (c.step == wharf::v1::STEP_KIND_BUILD || c.step == wharf::v1::STEP_KIND_TESTS) {
            return decide_timer(run, c);
          }
        }
        return reject(Code::kWrongStream,
                      std::string(command_name(command)) + " is not decided on a run stream");
      },
      command);
}

}  // namespace wharf::engine
