#include "engine/maintenance_reactor.h"

#include "engine/ids.h"

namespace wharf::engine {
namespace {

StartTestCases start(const EnvironmentState& env, const PendingTestCases& pending) {
  StartTestCases s;
  s.job.run_id = pending.test_run_id;
  s.job.project_id = env.project_id;
  s.job.environment = env.environment;
  s.job.attempt = 1;
  s.job.target_url = pending.target_url;
  s.job.suites = pending.cases;
  return s;
}

// Requests the after-deploy test cases of the current deploy of `env`, once.
void request_after_deploy(const ProcessState& state, const EnvironmentState& env,
                          const Envelope* cause, std::vector<Reaction>& out) {
  if (env.succeeded.empty()) return;
  const SucceededDeploy& now = env.succeeded.back();
  if (env.maintenance.after_deploy_requested.count(now.event_id)) return;
  const ProjectState* project = state.project(env.project_id);
  const auto* spec = project ? project->find_environment(env.environment) : nullptr;
  if (spec == nullptr || spec->after_deploy_test_cases().empty()) return;
  RequestTestCases r;
  r.project_id = env.project_id;
  r.environment = env.environment;
  r.cases.assign(spec->after_deploy_test_cases().begin(), spec->after_deploy_test_cases().end());
  r.trigger = "after-deploy";
  r.test_run_id = short_id("tc", now.event_id);
  r.deploy_event_id = now.event_id;
  Context ctx;
  ctx.actor.set_id("system");
  ctx.actor.set_channel(wharf::v1::CHANNEL_SYSTEM);
  ctx.command_id = "test-cases/" + now.event_id;
  if (cause != nullptr) {
    ctx.correlation_id = r.test_run_id;
    ctx.causation_id = cause->event_id();
  }
  out.push_back(IssueCommand{std::move(r), std::move(ctx)});
}

}  // namespace

void react_maintenance(const ProcessState& state, const Envelope& e, std::vector<Reaction>& out) {
  const auto& p = e.payload();
  if (p.kind_case() == wharf::v1::Payload::kDeploySucceeded) {
    const auto& s = p.deploy_succeeded();
    if (const EnvironmentState* env = state.environment(s.project_id(), s.environment())) {
      request_after_deploy(state, *env, &e, out);
    }
  } else if (p.kind_case() == wharf::v1::Payload::kTestCasesRequested) {
    const auto& r = p.test_cases_requested();
    const EnvironmentState* env = state.environment(r.project_id(), r.environment());
    if (env == nullptr) return;
    auto it = env->maintenance.pending_test_cases.find(r.test_run_id());
    if (it != env->maintenance.pending_test_cases.end()) out.push_back(start(*env, it->second));
  }
}

void recover_maintenance(const ProcessState& state, std::vector<Reaction>& out) {
  for (const auto& [stream, env] : state.environments()) {
    for (const auto& [id, pending] : env.maintenance.pending_test_cases) {
      out.push_back(start(env, pending));
    }
    request_after_deploy(state, env, nullptr, out);
  }
}

}  // namespace wharf::engine
