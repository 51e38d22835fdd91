#include "engine/reactor.h"

#include "engine/canary_reactor.h"
#include "engine/maintenance_reactor.h"

namespace wharf::engine {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

Context system_context(std::string command_id, const Envelope* cause) {
  Context ctx;
  ctx.actor.set_id("system");
  ctx.actor.set_channel(wharf::v1::CHANNEL_SYSTEM);
  ctx.command_id = std::move(command_id);
  // now_us stays 0: the runtime stamps the time it issues the command.
  if (cause != nullptr) {
    ctx.correlation_id = cause->correlation_id();
    ctx.causation_id = cause->event_id();
  }
  return ctx;
}

bool open(StepPhase phase) {
  return phase != StepPhase::kSucceeded && phase != StepPhase::kFailed;
}

bool step_open(const RunState& run, RunStep step) {
  return run.status == RunStatus::kRunning && run.step == step && open(run.phase);
}

void schedule(std::vector<Reaction>& out, std::string key, int64_t since_us, uint32_t timeout_s,
              ExpireTimer expire) {
  if (timeout_s == 0) return;
  ScheduleTimer t;
  t.due_us = since_us + int64_t(timeout_s) * kMicrosPerSecond;
  expire.timeout_s = timeout_s;
  t.expire = std::move(expire);
  t.context = system_context("timer/" + key, nullptr);
  t.key = std::move(key);
  out.push_back(std::move(t));
}

void start_build(const RunState& run, std::vector<Reaction>& out) {
  StartBuild s;
  s.job.run_id = run.run_id;
  s.job.project_id = run.project_id;
  s.job.attempt = run.attempt;
  s.job.commit_sha = run.commit_sha;
  s.job.repository = run.repository;
  s.job.step = run.build_step;
  s.job.branch = run.commit.branch();
  s.job.change_number = run.commit.change_number();
  s.job.patchset = run.commit.patchset();
  out.push_back(std::move(s));
  ExpireTimer x;
  x.step = wharf::v1::STEP_KIND_BUILD;
  x.project_id = run.project_id;
  x.run_id = run.run_id;
  x.attempt = run.attempt;
  schedule(out, "build/" + run.run_id + "/" + std::to_string(run.attempt), run.step_since_us,
           run.build_step.timeout_s(), std::move(x));
}

void start_tests(const RunState& run, std::vector<Reaction>& out) {
  const auto& stage = run.stages[static_cast<size_t>(run.stage)];
  StartTests s;
  s.job.run_id = run.run_id;
  s.job.project_id = run.project_id;
  s.job.environment = stage.name();
  s.job.attempt = run.attempt;
  s.job.target_url = run.target_url;
  s.job.suites.assign(stage.post_deploy_tests().begin(), stage.post_deploy_tests().end());
  out.push_back(std::move(s));
  uint32_t timeout_s = 0;
  for (const auto& suite : stage.post_deploy_tests()) timeout_s += suite.timeout_s();
  ExpireTimer x;
  x.step = wharf::v1::STEP_KIND_TESTS;
  x.project_id = run.project_id;
  x.run_id = run.run_id;
  x.environment = stage.name();
  x.attempt = run.attempt;
  schedule(out, "tests/" + run.run_id + "/" + stage.name() + "/" + std::to_string(run.attempt),
           run.step_since_us, timeout_s, std::move(x));
}

void cancel_work(std::vector<Reaction>& out, wharf::v1::StepKind step, const std::string& id,
                 const std::string& environment, uint32_t attempt) {
  out.push_back(CancelWork{step, id, environment, attempt});
}

void cancel_deploy(const EnvironmentState& env, const QueuedDeploy& d, const std::string& reason,
                   const Envelope* cause, std::vector<Reaction>& out) {
  CancelDeploy c{env.project_id, env.environment, d.deploy_id, d.attempt, reason};
  out.push_back(IssueCommand{
      std::move(c),
      system_context("cancel-deploy/" + d.deploy_id + "/" + std::to_string(d.attempt), cause)});
}

void request_deploy(const RunState& run, const Envelope* cause, std::vector<Reaction>& out) {
  const auto& stage = run.stages[static_cast<size_t>(run.stage)];
  RequestDeploy r;
  r.project_id = run.project_id;
  r.environment = stage.name();
  r.deploy_id = run.deploy_id;
  r.run_id = run.run_id;
  r.attempt = run.attempt;
  r.spec = stage_deploy_spec(run, stage);
  std::string id = "request-deploy/" + run.deploy_id + "/" + std::to_string(run.attempt);
  out.push_back(IssueCommand{std::move(r), system_context(std::move(id), cause)});
}

void record_stage_result(const RunState& run, const FinishedDeploy& f, const Envelope* cause,
                         std::vector<Reaction>& out) {
  RecordStageDeployResult r;
  r.run_id = run.run_id;
  r.environment = run.environment();
  r.deploy_id = run.deploy_id;
  r.attempt = run.attempt;
  r.succeeded = f.succeeded;
  r.url = f.url;
  r.reason = f.reason;
  r.deploy_event_id = f.event_id;
  std::string id = "stage-result/" + run.deploy_id + "/" + std::to_string(run.attempt);
  out.push_back(IssueCommand{std::move(r), system_context(std::move(id), cause)});
}

// The in-flight deploy of `env` needs a target (or, if its run was
// cancelled, removing).
void dispatch(const ProcessState& state, const EnvironmentState& env, const Envelope* cause,
              std::vector<Reaction>& out) {
  const QueuedDeploy* d = env.in_flight();
  if (d == nullptr) return;
  if (!d->run_id.empty() && state.run_cancelled(d->run_id)) {
    cancel_deploy(env, *d, "run " + d->run_id + " was cancelled", cause, out);
    return;
  }
  StartDeploy s;
  s.job.deploy_id = d->deploy_id;
  s.job.project_id = env.project_id;
  s.job.environment = env.environment;
  s.job.run_id = d->run_id;
  s.job.attempt = d->attempt;
  s.job.spec = d->spec;
  out.push_back(std::move(s));
  uint32_t timeout_s = 0;
  if (const RunState* run = d->run_id.empty() ? nullptr : state.run(d->run_id)) {
    timeout_s = run->pipeline.deploy_timeout_s();
  } else if (const ProjectState* project = state.project(env.project_id)) {
    timeout_s = project->pipeline.deploy_timeout_s();
  }
  ExpireTimer x;
  x.step = wharf::v1::STEP_KIND_DEPLOY;
  x.project_id = env.project_id;
  x.run_id = d->run_id;
  x.environment = env.environment;
  x.deploy_id = d->deploy_id;
  x.attempt = d->attempt;
  schedule(out, "deploy/" + d->deploy_id + "/" + std::to_string(d->attempt), env.in_flight_since_us,
           timeout_s, std::move(x));
}

// The run waits for the outcome of deploy (deploy_id, attempt)?
bool awaiting_deploy(const RunState& run, const std::string& deploy_id, uint32_t attempt) {
  return step_open(run, RunStep::kDeploy) && run.deploy_id == deploy_id && run.attempt == attempt;
}

void grant_owner(const ProjectState& project, const Envelope* cause, std::vector<Reaction>& out) {
  GrantPermission g{project.project_id, project.owner, wharf::v1::ROLE_OWNER, ""};
  out.push_back(
      IssueCommand{std::move(g), system_context("grant-owner/" + project.project_id, cause)});
}

void react_to_deploy_end(const ProcessState& state, const Envelope& e, const std::string& project,
                         const std::string& environment, const std::string& deploy_id,
                         uint32_t attempt, const std::string& run_id, bool stopped_by_engine,
                         std::vector<Reaction>& out) {
  const EnvironmentState* env = state.environment(project, environment);
  if (env == nullptr) return;
  if (env->last_removed_was_in_flight) {
    // A timeout or cancel ended it in the log, but the target may still be at it.
    if (stopped_by_engine) {
      cancel_work(out, wharf::v1::STEP_KIND_DEPLOY, deploy_id, environment, attempt);
    }
    dispatch(state, *env, &e, out);
  }
  if (run_id.empty()) return;
  const RunState* run = state.run(run_id);
  const FinishedDeploy* f = env->find_finished(deploy_id, attempt);
  if (run != nullptr && f != nullptr && awaiting_deploy(*run, deploy_id, attempt)) {
    record_stage_result(*run, *f, &e, out);
  }
}

}  // namespace

// ---- ProcessState ----

const RunState* ProcessState::run(const std::string& run_id) const {
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : &it->second;
}

const EnvironmentState* ProcessState::environment(const std::string& project_id,
                                                  const std::string& environment) const {
  auto it = environments_.find(environment_stream(project_id, environment));
  return it == environments_.end() ? nullptr : &it->second;
}

const ProjectState* ProcessState::project(const std::string& project_id) const {
  auto it = projects_.find(project_id);
  return it == projects_.end() ? nullptr : &it->second;
}

const AccessState* ProcessState::access(const std::string& project_id) const {
  auto it = accesses_.find(project_id);
  return it == accesses_.end() ? nullptr : &it->second;
}

void ProcessState::apply(const Envelope& event) {
  last_position_ = event.position() != 0 ? event.position() : last_position_ + 1;
  const std::string& stream = event.stream_id();
  if (!drop_next_.empty()) {
    // Kept when its own stream goes on at once (a failed run retried).
    if (stream.compare(0, 4, "run-") != 0 ||
        stream.compare(4, std::string::npos, drop_next_) != 0) {
      runs_.erase(drop_next_);
    }
    drop_next_.clear();
  }
  switch (stream_kind(stream)) {
    case StreamKind::kProject: {
      std::string id = stream.substr(sizeof("project-") - 1);
      engine::apply(projects_[id], event);
      break;
    }
    case StreamKind::kRun: {
      std::string id = stream.substr(sizeof("run-") - 1);
      if (cancelled_runs_.count(id)) break;
      auto it = runs_.find(id);
      if (it == runs_.end()) {
        if (event.stream_version() > 1) break;  // a dropped run not restored: missing_history()
        it = runs_.emplace(id, RunState{}).first;
      }
      RunState& run = it->second;
      engine::apply(run, event);
      if (run.status == RunStatus::kCancelled) remember_cancelled(id);
      if (run.status == RunStatus::kCancelled || run.status == RunStatus::kSucceeded ||
          run.status == RunStatus::kFailed) {
        drop_next_ = id;
      }
      break;
    }
    case StreamKind::kEnvironment: {
      EnvironmentState& env = environments_[stream];
      engine::apply(env, event);
      bound(env, event);
      break;
    }
    case StreamKind::kAccess: {
      std::string id = stream.substr(sizeof("access-") - 1);
      AccessState& access = accesses_[id];
      engine::apply(access, event);
      // Requests are decided on the access stream itself; reactions read
      // only roles and ever_granted.
      access.pending.clear();
      access.decided_requests.clear();
      break;
    }
    case StreamKind::kTarget:  // no work follows a target's events
    case StreamKind::kUnknown:
      break;
  }
}

std::string ProcessState::missing_history(const Envelope& event) const {
  const std::string& stream = event.stream_id();
  if (event.stream_version() <= 1 || stream_kind(stream) != StreamKind::kRun) return {};
  const std::string id = stream.substr(sizeof("run-") - 1);
  if (runs_.count(id) != 0 || cancelled_runs_.count(id) != 0) return {};
  return stream;
}

void ProcessState::restore_run(const std::vector<Envelope>& earlier) {
  if (earlier.empty() || stream_kind(earlier.front().stream_id()) != StreamKind::kRun) return;
  RunState run;
  for (const auto& e : earlier) engine::apply(run, e);
  runs_[earlier.front().stream_id().substr(sizeof("run-") - 1)] = std::move(run);
}

void ProcessState::remember_cancelled(const std::string& run_id) {
  if (!cancelled_runs_.insert(run_id).second) return;
  cancelled_order_.push_back(run_id);
  if (cancelled_order_.size() > kCancelledRunsKept) {
    cancelled_runs_.erase(cancelled_order_.front());
    cancelled_order_.pop_front();
  }
}

void ProcessState::bound(EnvironmentState& env, const Envelope& event) const {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kDeploySucceeded:
    case wharf::v1::Payload::kDeployFailed: {
      // Reactions read the latest success only (after-deploy test cases);
      // the command side keeps every one for rollbacks.
      if (env.succeeded.size() > 1) {
        env.succeeded.erase(env.succeeded.begin(), env.succeeded.end() - 1);
      }
      auto& asked = env.maintenance.after_deploy_requested;
      if (!env.succeeded.empty() && !asked.empty()) {
        const std::string& latest = env.succeeded.back().event_id;
        const bool latest_asked = asked.count(latest) > 0;
        if (asked.size() > 1 || !latest_asked) {
          asked.clear();
          if (latest_asked) asked.insert(latest);
        }
      }
      // A finished attempt is read only by the run that awaits it (to record
      // its stage result, now or in recover()); a run awaits one deploy
      // attempt once.
      for (auto it = env.finished.begin(); it != env.finished.end();) {
        const RunState* run = it->second.run_id.empty() ? nullptr : this->run(it->second.run_id);
        const bool awaited = run != nullptr && step_open(*run, RunStep::kDeploy) &&
                             deploy_key(run->deploy_id, run->attempt) == it->first;
        it = awaited ? std::next(it) : env.finished.erase(it);
      }
      break;
    }
    case wharf::v1::Payload::kCanaryPromoted:
    case wharf::v1::Payload::kCanaryAborted: {
      // How an ended canary went is read only for the owner of Dubbo rules
      // left behind (recover_canary); keep the one that just ended too.
      CanaryState& c = env.canary;
      for (auto it = c.finished.begin(); it != c.finished.end();) {
        bool owns = it->first == c.canary_id;
        for (const auto& [path, rule] : c.dubbo_rules) owns = owns || rule.canary_id == it->first;
        it = owns ? std::next(it) : c.finished.erase(it);
      }
      break;
    }
    case wharf::v1::Payload::kRollbackRequested:
      env.rollbacks.clear();  // decide-only: the idempotence of RequestRollback
      break;
    case wharf::v1::Payload::kTestCasesFinished:
      env.maintenance.finished_test_cases.clear();  // decide-only
      break;
    case wharf::v1::Payload::kServiceLogsOpened:
      env.maintenance.log_sessions.clear();  // decide-only
      break;
    case wharf::v1::Payload::kTerminalClosed:
      env.maintenance.closed_terminals.clear();  // decide-only
      break;
    default:
      break;
  }
}

// ---- react ----

std::vector<Reaction> react(const ProcessState& state, const Envelope& e) {
  std::vector<Reaction> out;
  const auto& p = e.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kProjectCreated: {
      const ProjectState* project = state.project(p.project_created().project_id());
      const AccessState* access = state.access(p.project_created().project_id());
      if (project != nullptr &&
          (access == nullptr || !access->holds(project->owner, wharf::v1::ROLE_OWNER))) {
        grant_owner(*project, &e, out);
      }
      break;
    }
    case wharf::v1::Payload::kBuildRequested: {
      const RunState* run = state.run(p.build_requested().run_id());
      if (run && step_open(*run, RunStep::kBuild) &&
          run->attempt == p.build_requested().attempt()) {
        start_build(*run, out);
      }
      break;
    }
    case wharf::v1::Payload::kStageDeployRequested: {
      const auto& d = p.stage_deploy_requested();
      const RunState* run = state.run(d.run_id());
      if (run == nullptr || !awaiting_deploy(*run, d.deploy_id(), d.attempt())) break;
      const EnvironmentState* env = state.environment(d.project_id(), d.environment());
      if (env == nullptr || (!env->find(d.deploy_id(), d.attempt()) &&
                             !env->find_finished(d.deploy_id(), d.attempt()))) {
        request_deploy(*run, &e, out);
      }
      break;
    }
    case wharf::v1::Payload::kDeployRequested: {
      const auto& d = p.deploy_requested();
      const EnvironmentState* env = state.environment(d.project_id(), d.environment());
      if (env == nullptr) break;
      const QueuedDeploy* queued = env->find(d.deploy_id(), d.attempt());
      if (queued == nullptr) break;
      if (queued == env->in_flight()) {
        dispatch(state, *env, &e, out);
      } else if (!d.run_id().empty() && state.run_cancelled(d.run_id())) {
        cancel_deploy(*env, *queued, "run " + d.run_id() + " was cancelled", &e, out);
      }
      break;
    }
    case wharf::v1::Payload::kDeploySucceeded: {
      const auto& s = p.deploy_succeeded();
      react_to_deploy_end(state, e, s.project_id(), s.environment(), s.deploy_id(), s.attempt(),
                          s.run_id(), false, out);
      break;
    }
    case wharf::v1::Payload::kDeployFailed: {
      const auto& f = p.deploy_failed();
      react_to_deploy_end(state, e, f.project_id(), f.environment(), f.deploy_id(), f.attempt(),
                          f.run_id(), f.timed_out() || f.cancelled(), out);
      break;
    }
    case wharf::v1::Payload::kTestsRequested: {
      const RunState* run = state.run(p.tests_requested().run_id());
      if (run && step_open(*run, RunStep::kTests) &&
          run->attempt == p.tests_requested().attempt() &&
          run->environment() == p.tests_requested().environment()) {
        start_tests(*run, out);
      }
      break;
    }
    case wharf::v1::Payload::kStepTimedOut: {
      const auto& t = p.step_timed_out();
      if (t.step() == wharf::v1::STEP_KIND_BUILD || t.step() == wharf::v1::STEP_KIND_TESTS) {
        cancel_work(out, t.step(), t.run_id(), t.environment(), t.attempt());
      }
      break;  // deploy timeouts: DeployFailed(timed_out) follows and cancels the work
    }
    case wharf::v1::Payload::kPipelineRunCancelled: {
      const RunState* run = state.run(p.pipeline_run_cancelled().run_id());
      if (run == nullptr || !open(run->phase)) break;
      if (run->step == RunStep::kBuild) {
        cancel_work(out, wharf::v1::STEP_KIND_BUILD, run->run_id, "", run->attempt);
      } else if (run->step == RunStep::kTests) {
        cancel_work(out, wharf::v1::STEP_KIND_TESTS, run->run_id, run->environment(), run->attempt);
      } else if (run->step == RunStep::kDeploy) {
        const EnvironmentState* env = state.environment(run->project_id, run->environment());
        const QueuedDeploy* d = env ? env->find(run->deploy_id, run->attempt) : nullptr;
        if (d != nullptr) cancel_deploy(*env, *d, "run " + run->run_id + " was cancelled", &e, out);
      }
      break;
    }
    default:
      break;
  }
  react_maintenance(state, e, out);
  react_canary(state, e, out);
  return out;
}

// ---- recover ----

std::vector<Reaction> recover(const ProcessState& state) {
  std::vector<Reaction> out;
  for (const auto& [id, project] : state.projects()) {
    if (!project.exists || project.owner.empty()) continue;
    const AccessState* access = state.access(id);
    std::string key = project.owner + "#" + std::to_string(wharf::v1::ROLE_OWNER);
    if (access == nullptr || access->ever_granted.count(key) == 0)
      grant_owner(project, nullptr, out);
  }
  for (const auto& [id, run] : state.runs()) {
    if (run.status != RunStatus::kRunning || !open(run.phase)) continue;
    switch (run.step) {
      case RunStep::kBuild:
        start_build(run, out);
        break;
      case RunStep::kTests:
        start_tests(run, out);
        break;
      case RunStep::kDeploy: {
        const EnvironmentState* env = state.environment(run.project_id, run.environment());
        const FinishedDeploy* f = env ? env->find_finished(run.deploy_id, run.attempt) : nullptr;
        if (f != nullptr) {
          record_stage_result(run, *f, nullptr, out);
        } else if (env == nullptr || env->find(run.deploy_id, run.attempt) == nullptr) {
          request_deploy(run, nullptr, out);
        }  // else queued or in flight: the environment pass below covers it
        break;
      }
      default:
        break;
    }
  }
  for (const auto& [stream, env] : state.environments()) {
    for (size_t i = 1; i < env.queue.size(); ++i) {
      const QueuedDeploy& d = env.queue[i];
      if (!d.run_id.empty() && state.run_cancelled(d.run_id)) {
        cancel_deploy(env, d, "run " + d.run_id + " was cancelled", nullptr, out);
      }
    }
    dispatch(state, env, nullptr, out);
  }
  recover_maintenance(state, out);
  recover_canary(state, out);
  return out;
}

}  // namespace wharf::engine
