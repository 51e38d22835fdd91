#include "adapters/workers/task_codec.h"

namespace wharf::workers {

namespace v1 = wharf::v1;

std::string task_name(v1::TaskKind kind, const std::string& key, uint32_t attempt) {
  const char* prefix = kind == v1::TASK_KIND_BUILD    ? "build"
                       : kind == v1::TASK_KIND_DEPLOY ? "deploy"
                       : kind == v1::TASK_KIND_TEST   ? "test"
                                                      : "unknown";
  return std::string(prefix) + "/" + key + "#" + std::to_string(attempt);
}

std::string task_name(const v1::Task& task) {
  return task_name(task.kind(), task.key(), task.attempt());
}

std::string task_name(const v1::TaskResult& result) {
  return task_name(result.kind(), result.key(), result.attempt());
}

std::string partition_key(const v1::Task& task) {
  if (task.has_deploy() && !task.deploy().run_id().empty()) return task.deploy().run_id();
  return task.key();
}

namespace {

v1::Task task_for(v1::TaskKind kind, const std::string& key, uint32_t attempt) {
  v1::Task task;
  task.set_kind(kind);
  task.set_key(key);
  task.set_attempt(attempt);
  return task;
}

}  // namespace

v1::Task to_task(const engine::BuildJob& job) {
  v1::Task task = task_for(v1::TASK_KIND_BUILD, job.run_id, job.attempt);
  auto* build = task.mutable_build();
  build->set_run_id(job.run_id);
  build->set_project_id(job.project_id);
  build->set_commit_sha(job.commit_sha);
  build->set_repository(job.repository);
  *build->mutable_step() = job.step;
  build->set_branch(job.branch);
  build->set_change_number(job.change_number);
  build->set_patchset(job.patchset);
  return task;
}

v1::Task to_task(const engine::DeployJob& job) {
  v1::Task task = task_for(v1::TASK_KIND_DEPLOY, job.deploy_id, job.attempt);
  auto* deploy = task.mutable_deploy();
  deploy->set_deploy_id(job.deploy_id);
  deploy->set_project_id(job.project_id);
  deploy->set_environment(job.environment);
  deploy->set_run_id(job.run_id);
  *deploy->mutable_spec() = job.spec;
  return task;
}

v1::Task to_task(const engine::TestJob& job) {
  v1::Task task = task_for(v1::TASK_KIND_TEST, job.run_id, job.attempt);
  auto* test = task.mutable_test();
  test->set_run_id(job.run_id);
  test->set_project_id(job.project_id);
  test->set_environment(job.environment);
  test->set_target_url(job.target_url);
  for (const auto& suite : job.suites) *test->add_suites() = suite;
  return task;
}

v1::Task cancel_task(v1::TaskKind kind, const std::string& key, uint32_t attempt) {
  v1::Task task = task_for(kind, key, attempt);
  task.set_cancel(true);
  return task;
}

engine::BuildJob build_job(const v1::Task& task) {
  const auto& b = task.build();
  return {b.run_id(),     b.project_id(), task.attempt(),     b.commit_sha(),
          b.repository(), b.step(),       b.branch(),         b.change_number(),
          b.patchset()};
}

engine::DeployJob deploy_job(const v1::Task& task) {
  const auto& d = task.deploy();
  return {d.deploy_id(), d.project_id(), d.environment(), d.run_id(), task.attempt(), d.spec()};
}

engine::TestJob test_job(const v1::Task& task) {
  const auto& t = task.test();
  engine::TestJob job{t.run_id(),     t.project_id(), t.environment(),
                      task.attempt(), t.target_url(), {}};
  job.suites.assign(t.suites().begin(), t.suites().end());
  return job;
}

v1::TaskProgress to_proto(const engine::StepProgress& progress) {
  v1::TaskProgress p;
  using Kind = engine::StepProgress::Kind;
  p.set_kind(progress.kind == Kind::kQueued    ? v1::TaskProgress::KIND_QUEUED
             : progress.kind == Kind::kStarted ? v1::TaskProgress::KIND_STARTED
                                               : v1::TaskProgress::KIND_PROGRESS);
  p.set_external_id(progress.external_id);
  p.set_log_ref(progress.log_ref);
  p.set_message(progress.message);
  p.set_percent(progress.percent);
  return p;
}

engine::StepProgress from_proto(const v1::TaskProgress& progress) {
  using Kind = engine::StepProgress::Kind;
  engine::StepProgress p;
  p.kind = progress.kind() == v1::TaskProgress::KIND_QUEUED    ? Kind::kQueued
           : progress.kind() == v1::TaskProgress::KIND_STARTED ? Kind::kStarted
                                                               : Kind::kProgress;
  p.external_id = progress.external_id();
  p.log_ref = progress.log_ref();
  p.message = progress.message();
  p.percent = progress.percent();
  return p;
}

v1::BuildTaskOutcome to_proto(const engine::BuildOutcome& outcome) {
  v1::BuildTaskOutcome o;
  o.set_succeeded(outcome.succeeded);
  o.set_artifact_digest(outcome.artifact_digest);
  o.set_artifact_uri(outcome.artifact_uri);
  o.set_reason(outcome.reason);
  o.set_exit_code(outcome.exit_code);
  o.set_duration_ms(outcome.duration_ms);
  return o;
}

v1::DeployTaskOutcome to_proto(const engine::DeployOutcome& outcome) {
  v1::DeployTaskOutcome o;
  o.set_succeeded(outcome.succeeded);
  o.set_url(outcome.url);
  o.set_reason(outcome.reason);
  return o;
}

v1::TestTaskOutcome to_proto(const engine::TestOutcome& outcome) {
  v1::TestTaskOutcome o;
  o.set_passed(outcome.passed);
  for (const auto& r : outcome.results) *o.add_results() = r;
  o.set_reason(outcome.reason);
  return o;
}

engine::BuildOutcome from_proto(const v1::BuildTaskOutcome& o) {
  return {o.succeeded(), o.artifact_digest(), o.artifact_uri(),
          o.reason(),    o.exit_code(),       o.duration_ms()};
}

engine::DeployOutcome from_proto(const v1::DeployTaskOutcome& o) {
  return {o.succeeded(), o.url(), o.reason()};
}

engine::TestOutcome from_proto(const v1::TestTaskOutcome& o) {
  engine::TestOutcome outcome;
  outcome.passed = o.passed();
  outcome.results.assign(o.results().begin(), o.results().end());
  outcome.reason = o.reason();
  return outcome;
}

}  // namespace wharf::workers
