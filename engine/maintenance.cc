#include "engine/maintenance.h"

#include "engine/environment.h"
#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;
using wharf::v1::HealthState;

std::string where(const std::string& project, const std::string& environment) {
  return environment + " of project " + project;
}

std::vector<NewEvent> one(NewEvent e) {
  std::vector<NewEvent> out;
  out.push_back(std::move(e));
  return out;
}

Decision nothing_deployed(const std::string& project, const std::string& environment) {
  return reject(Code::kInvalidTransition,
                "nothing is deployed to " + environment + " of project " + project + " yet");
}

Decision decide_health(const EnvironmentState& env, const ObserveHealth& c) {
  const SucceededDeploy* now = env.serving();
  if (now == nullptr) return nothing_deployed(c.project_id, c.environment);
  if (c.deploy_id != now->deploy_id) {
    return reject(Code::kStale, "deploy " + c.deploy_id + " no longer serves " +
                                    where(c.project_id, c.environment) + " (" + now->deploy_id +
                                    " does); health probe dropped");
  }
  if (c.samples.empty()) return reject(Code::kInvalidArgument, "a health observation needs probes");
  const MaintenanceState& m = env.maintenance;
  HealthState recorded =
      m.health_deploy_id == now->deploy_id ? m.health : wharf::v1::HEALTH_STATE_UNSPECIFIED;
  int deciding = -1;
  HealthState verdict =
      health_verdict(recorded, c.samples, c.unhealthy_after, c.healthy_after, &deciding);
  if (verdict == recorded || deciding < 0) return std::vector<NewEvent>{};
  NewEvent e;
  e.correlation_id = now->deploy_id;
  auto* h = e.payload.mutable_health_changed();
  h->set_project_id(c.project_id);
  h->set_environment(c.environment);
  h->set_deploy_id(now->deploy_id);
  h->set_version(now->spec.version());
  h->set_from(recorded);
  h->set_to(verdict);
  h->set_detail(c.samples[static_cast<size_t>(deciding)].detail);
  h->set_probes(static_cast<uint32_t>(c.samples.size()));
  uint32_t failed = 0;
  for (const auto& s : c.samples) failed += s.ok ? 0 : 1;
  h->set_failed_probes(failed);
  h->set_url(c.url);
  return one(std::move(e));
}

Decision decide_test_cases(const EnvironmentState& env, const RequestTestCases& c,
                           const Context& ctx, const ProjectState* project) {
  if (project == nullptr || !project->exists) {
    return reject(Code::kNotFound, "no project " + c.project_id);
  }
  const wharf::v1::EnvironmentSpec* spec = project->find_environment(c.environment);
  if (spec == nullptr) {
    return reject(Code::kNotFound,
                  "project " + c.project_id + " has no environment " + c.environment);
  }
  const std::string id = !c.test_run_id.empty() ? c.test_run_id : short_id("tc", ctx.command_id);
  const MaintenanceState& m = env.maintenance;
  if (m.pending_test_cases.count(id) || m.finished_test_cases.count(id)) {
    return std::vector<NewEvent>{};  // already requested
  }
  const SucceededDeploy* now = env.serving();
  if (now == nullptr) return nothing_deployed(c.project_id, c.environment);
  if (!c.deploy_event_id.empty() && c.deploy_event_id != now->event_id) {
    return reject(Code::kStale, "a later deploy replaced the one these test cases were for");
  }
  if (spec->test_cases().empty()) {
    return reject(Code::kInvalidArgument, "environment " + c.environment + " of project " +
                                              c.project_id + " declares no test cases");
  }
  std::vector<const wharf::v1::TestSuite*> picked;
  if (c.cases.empty()) {
    for (const auto& t : spec->test_cases()) picked.push_back(&t);
  }
  for (const auto& name : c.cases) {
    const wharf::v1::TestSuite* found = nullptr;
    for (const auto& t : spec->test_cases()) {
      if (t.name() == name) found = &t;
    }
    if (found == nullptr) {
      std::string declared;
      for (const auto& t : spec->test_cases())
        declared += (declared.empty() ? "" : ", ") + t.name();
      return reject(Code::kInvalidArgument, "environment " + c.environment +
                                                " declares no test case " + name +
                                                " (declared: " + declared + ")");
    }
    for (const auto* p : picked) {
      if (p == found) return reject(Code::kInvalidArgument, "test case " + name + " picked twice");
    }
    picked.push_back(found);
  }
  NewEvent e;
  e.correlation_id = id;
  auto* r = e.payload.mutable_test_cases_requested();
  r->set_test_run_id(id);
  r->set_project_id(c.project_id);
  r->set_environment(c.environment);
  r->set_deploy_id(now->deploy_id);
  r->set_version(now->spec.version());
  r->set_deploy_event_id(now->event_id);
  for (const auto* p : picked) *r->add_cases() = *p;
  r->set_target_url(now->url);
  r->set_requested_by(ctx.actor.id());
  r->set_trigger(c.trigger.empty() ? "manual" : c.trigger);
  return one(std::move(e));
}

Decision decide_test_results(const EnvironmentState& env, const RecordTestCaseResults& c) {
  const MaintenanceState& m = env.maintenance;
  auto it = m.pending_test_cases.find(c.test_run_id);
  if (it == m.pending_test_cases.end()) {
    if (m.finished_test_cases.count(c.test_run_id)) {
      return reject(Code::kStale, "test cases " + c.test_run_id + " already finished");
    }
    return reject(Code::kNotFound,
                  "no test cases " + c.test_run_id + " in " + where(c.project_id, c.environment));
  }
  NewEvent e;
  e.correlation_id = c.test_run_id;
  auto* f = e.payload.mutable_test_cases_finished();
  f->set_test_run_id(c.test_run_id);
  f->set_project_id(c.project_id);
  f->set_environment(c.environment);
  f->set_deploy_id(it->second.deploy_id);
  for (const auto& s : env.succeeded) {
    if (s.deploy_id == it->second.deploy_id) f->set_version(s.spec.version());
  }
  f->set_passed(c.passed);
  for (const auto& r : c.results) *f->add_results() = r;
  f->set_reason(c.reason);
  return one(std::move(e));
}

// What ServiceLogsOpened and TerminalOpened share: who opened which session
// on which deploy, from where.
template <typename Opened, typename Command>
void fill_session(Opened* o, const std::string& id, const Command& c, const SucceededDeploy& now,
                  const Context& ctx) {
  o->set_session_id(id);
  o->set_project_id(c.project_id);
  o->set_environment(c.environment);
  o->set_deploy_id(now.deploy_id);
  o->set_version(now.spec.version());
  o->set_user(ctx.actor.id());
  o->set_remote(c.remote);
}

Decision decide_logs(const EnvironmentState& env, const OpenServiceLogs& c, const Context& ctx) {
  const std::string id = !c.session_id.empty() ? c.session_id : short_id("logs", ctx.command_id);
  if (env.maintenance.log_sessions.count(id)) return std::vector<NewEvent>{};
  const SucceededDeploy* now = env.serving();
  if (now == nullptr) return nothing_deployed(c.project_id, c.environment);
  NewEvent e;
  e.correlation_id = id;
  auto* o = e.payload.mutable_service_logs_opened();
  fill_session(o, id, c, *now, ctx);
  o->set_source(c.source);
  o->set_follow(c.follow);
  o->set_tail_lines(c.tail_lines);
  return one(std::move(e));
}

Decision decide_open_terminal(const EnvironmentState& env, const OpenTerminal& c,
                              const Context& ctx) {
  const std::string id = !c.session_id.empty() ? c.session_id : short_id("term", ctx.command_id);
  const MaintenanceState& m = env.maintenance;
  if (m.open_terminals.count(id) || m.closed_terminals.count(id)) return std::vector<NewEvent>{};
  const SucceededDeploy* now = env.serving();
  if (now == nullptr) return nothing_deployed(c.project_id, c.environment);
  NewEvent e;
  e.correlation_id = id;
  auto* o = e.payload.mutable_terminal_opened();
  fill_session(o, id, c, *now, ctx);
  o->set_where(c.where);
  return one(std::move(e));
}

Decision decide_close_terminal(const EnvironmentState& env, const CloseTerminal& c,
                               const Context& ctx) {
  const MaintenanceState& m = env.maintenance;
  if (m.closed_terminals.count(c.session_id)) return std::vector<NewEvent>{};
  if (!m.open_terminals.count(c.session_id)) {
    return reject(Code::kNotFound,
                  "no open terminal " + c.session_id + " in " + where(c.project_id, c.environment));
  }
  NewEvent e;
  e.correlation_id = c.session_id;
  auto* o = e.payload.mutable_terminal_closed();
  o->set_session_id(c.session_id);
  o->set_project_id(c.project_id);
  o->set_environment(c.environment);
  o->set_user(ctx.actor.id());
  o->set_duration_ms(c.duration_ms);
  o->set_reason(c.reason);
  o->set_bytes_in(c.bytes_in);
  o->set_bytes_out(c.bytes_out);
  o->set_remote(c.remote);
  return one(std::move(e));
}

}  // namespace

HealthState health_verdict(HealthState recorded, const std::vector<HealthSample>& samples,
                           uint32_t unhealthy_after, uint32_t healthy_after, int* deciding) {
  if (unhealthy_after == 0) unhealthy_after = 1;
  if (healthy_after == 0) healthy_after = 1;
  HealthState verdict = recorded;
  *deciding = -1;
  uint32_t run = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    run = (i > 0 && samples[i].ok == samples[i - 1].ok) ? run + 1 : 1;
    HealthState seen =
        samples[i].ok ? wharf::v1::HEALTH_STATE_HEALTHY : wharf::v1::HEALTH_STATE_UNHEALTHY;
    if (seen != verdict && run >= (samples[i].ok ? healthy_after : unhealthy_after)) {
      verdict = seen;
      *deciding = static_cast<int>(i);
    }
  }
  return verdict;
}

void apply(MaintenanceState& m, const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kDeploySucceeded:
      m.health = wharf::v1::HEALTH_STATE_UNSPECIFIED;  // a new deploy is probed afresh
      m.health_deploy_id = p.deploy_succeeded().deploy_id();
      break;
    case wharf::v1::Payload::kHealthChanged:
      m.health = p.health_changed().to();
      m.health_deploy_id = p.health_changed().deploy_id();
      break;
    case wharf::v1::Payload::kTestCasesRequested: {
      const auto& r = p.test_cases_requested();
      PendingTestCases pending;
      pending.test_run_id = r.test_run_id();
      pending.deploy_id = r.deploy_id();
      pending.target_url = r.target_url();
      pending.cases.assign(r.cases().begin(), r.cases().end());
      m.pending_test_cases[r.test_run_id()] = std::move(pending);
      if (r.trigger() == "after-deploy") m.after_deploy_requested.insert(r.deploy_event_id());
      break;
    }
    case wharf::v1::Payload::kTestCasesFinished:
      m.pending_test_cases.erase(p.test_cases_finished().test_run_id());
      m.finished_test_cases.insert(p.test_cases_finished().test_run_id());
      break;
    case wharf::v1::Payload::kServiceLogsOpened:
      m.log_sessions.insert(p.service_logs_opened().session_id());
      break;
    case wharf::v1::Payload::kTerminalOpened:
      m.open_terminals.insert(p.terminal_opened().session_id());
      break;
    case wharf::v1::Payload::kTerminalClosed:
      m.open_terminals.erase(p.terminal_closed().session_id());
      m.closed_terminals.insert(p.terminal_closed().session_id());
      break;
    default:
      break;
  }
}

bool is_maintenance(const Command& command) {
  return std::holds_alternative<ObserveHealth>(command) ||
         std::holds_alternative<RequestTestCases>(command) ||
         std::holds_alternative<RecordTestCaseResults>(command) ||
         std::holds_alternative<OpenServiceLogs>(command) ||
         std::holds_alternative<OpenTerminal>(command) ||
         std::holds_alternative<CloseTerminal>(command);
}

Decision decide_maintenance(const EnvironmentState& env, const Command& command,
                            const Context& context, const ProjectState* project) {
  if (const auto* c = std::get_if<ObserveHealth>(&command)) return decide_health(env, *c);
  if (const auto* c = std::get_if<RequestTestCases>(&command)) {
    return decide_test_cases(env, *c, context, project);
  }
  if (const auto* c = std::get_if<RecordTestCaseResults>(&command)) {
    return decide_test_results(env, *c);
  }
  if (const auto* c = std::get_if<OpenServiceLogs>(&command)) return decide_logs(env, *c, context);
  if (const auto* c = std::get_if<OpenTerminal>(&command)) {
    return decide_open_terminal(env, *c, context);
  }
  if (const auto* c = std::get_if<CloseTerminal>(&command)) {
    return decide_close_terminal(env, *c, context);
  }
  return reject(Code::kWrongStream,
                std::string(command_name(command)) + " is not a maintenance command");
}

}  // namespace wharf::engine
