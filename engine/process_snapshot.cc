#include "engine/process_snapshot.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace wharf::engine {

namespace {

namespace pb = wharf::v1;

template <class Map>
std::vector<const typename Map::value_type*> sorted(const Map& map) {
  std::vector<const typename Map::value_type*> out;
  out.reserve(map.size());
  for (const auto& entry : map) out.push_back(&entry);
  std::sort(out.begin(), out.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return out;
}

template <class Set, class Repeated>
void put_sorted(const Set& set, Repeated* out) {
  std::vector<std::string> v(set.begin(), set.end());
  std::sort(v.begin(), v.end());
  for (auto& s : v) out->Add(std::move(s));
}

void put_run(const RunState& r, pb::RunStateSnapshot* o) {
  o->set_status(static_cast<int32_t>(r.status));
  o->set_run_id(r.run_id);
  o->set_project_id(r.project_id);
  o->set_commit_sha(r.commit_sha);
  o->set_repository(r.repository);
  *o->mutable_commit() = r.commit;
  for (const auto& s : r.stages) *o->add_stages() = s;
  *o->mutable_pipeline() = r.pipeline;
  *o->mutable_build_step() = r.build_step;
  o->set_step(static_cast<int32_t>(r.step));
  o->set_stage(r.stage);
  o->set_phase(static_cast<int32_t>(r.phase));
  o->set_attempt(r.attempt);
  o->set_step_since_us(r.step_since_us);
  o->set_deploy_id(r.deploy_id);
  o->set_target_url(r.target_url);
  o->set_failure_reason(r.failure_reason);
  o->set_version(r.version);
  o->set_artifact_digest(r.artifact_digest);
  o->set_artifact_uri(r.artifact_uri);
}

bool get_run(pb::RunStateSnapshot& i, RunState& r) {
  if (i.status() < 0 || i.status() > static_cast<int32_t>(RunStatus::kCancelled)) return false;
  if (i.step() < 0 || i.step() > static_cast<int32_t>(RunStep::kApproval)) return false;
  if (i.phase() < 0 || i.phase() > static_cast<int32_t>(StepPhase::kFailed)) return false;
  r.status = static_cast<RunStatus>(i.status());
  r.run_id = std::move(*i.mutable_run_id());
  r.project_id = std::move(*i.mutable_project_id());
  r.commit_sha = std::move(*i.mutable_commit_sha());
  r.repository = std::move(*i.mutable_repository());
  r.commit = std::move(*i.mutable_commit());
  r.stages.reserve(static_cast<size_t>(i.stages_size()));
  for (auto& stage : *i.mutable_stages()) r.stages.push_back(std::move(stage));
  r.pipeline = std::move(*i.mutable_pipeline());
  r.build_step = std::move(*i.mutable_build_step());
  r.step = static_cast<RunStep>(i.step());
  r.stage = i.stage();
  r.phase = static_cast<StepPhase>(i.phase());
  r.attempt = i.attempt();
  r.step_since_us = i.step_since_us();
  r.deploy_id = i.deploy_id();
  r.target_url = i.target_url();
  r.failure_reason = i.failure_reason();
  r.version = i.version();
  r.artifact_digest = i.artifact_digest();
  r.artifact_uri = i.artifact_uri();
  return true;
}

void put_canary(const CanaryState& c, pb::CanaryStateSnapshot* o) {
  o->set_stable_event_id(c.stable_event_id);
  o->set_stable_deploy_id(c.stable_deploy_id);
  o->set_stable_version(c.stable_version);
  o->set_stable_url(c.stable_url);
  o->set_active(c.active);
  o->set_canary_id(c.canary_id);
  o->set_deploy_id(c.deploy_id);
  o->set_attempt(c.attempt);
  o->set_deploy_event_id(c.deploy_event_id);
  o->set_version(c.version);
  o->set_url(c.url);
  *o->mutable_strategy() = c.strategy;
  *o->mutable_spec() = c.spec;
  o->set_step(c.step);
  o->set_weight(c.weight);
  o->set_step_since_us(c.step_since_us);
  for (const auto& [path, rule] : c.dubbo_rules) {
    auto* d = o->add_dubbo_rules();
    d->set_path(path);
    d->set_canary_id(rule.canary_id);
    d->set_kind(rule.kind);
    d->set_yaml(rule.yaml);
    d->set_version(rule.version);
    d->set_has_snapshot(rule.has_snapshot);
    d->set_snapshot_yaml(rule.snapshot_yaml);
    d->set_snapshot_version(rule.snapshot_version);
  }
  for (const auto* entry : sorted(c.finished))
    (*o->mutable_finished())[entry->first] = entry->second;
}

void get_canary(pb::CanaryStateSnapshot& i, CanaryState& c) {
  c.stable_event_id = i.stable_event_id();
  c.stable_deploy_id = i.stable_deploy_id();
  c.stable_version = i.stable_version();
  c.stable_url = i.stable_url();
  c.active = i.active();
  c.canary_id = i.canary_id();
  c.deploy_id = i.deploy_id();
  c.attempt = i.attempt();
  c.deploy_event_id = i.deploy_event_id();
  c.version = i.version();
  c.url = i.url();
  c.strategy = std::move(*i.mutable_strategy());
  c.spec = std::move(*i.mutable_spec());
  c.step = i.step();
  c.weight = i.weight();
  c.step_since_us = i.step_since_us();
  for (const auto& d : i.dubbo_rules()) {
    c.dubbo_rules[d.path()] = DubboRuleState{
        d.canary_id(),       d.kind(), d.yaml(), d.version(), d.has_snapshot(), d.snapshot_yaml(),
        d.snapshot_version()};
  }
  c.finished.reserve(i.finished().size());
  for (const auto& [id, how] : i.finished()) c.finished.emplace(id, how);
}

void put_maintenance(const MaintenanceState& m, pb::MaintenanceStateSnapshot* o) {
  o->set_health(m.health);
  o->set_health_deploy_id(m.health_deploy_id);
  for (const auto* entry : sorted(m.pending_test_cases)) {
    const PendingTestCases& p = entry->second;
    auto* out = o->add_pending_test_cases();
    out->set_test_run_id(p.test_run_id);
    out->set_deploy_id(p.deploy_id);
    out->set_target_url(p.target_url);
    for (const auto& suite : p.cases) *out->add_cases() = suite;
  }
  put_sorted(m.finished_test_cases, o->mutable_finished_test_cases());
  put_sorted(m.after_deploy_requested, o->mutable_after_deploy_requested());
  put_sorted(m.log_sessions, o->mutable_log_sessions());
  put_sorted(m.open_terminals, o->mutable_open_terminals());
  put_sorted(m.closed_terminals, o->mutable_closed_terminals());
}

void get_maintenance(pb::MaintenanceStateSnapshot& i, MaintenanceState& m) {
  m.health = i.health();
  m.health_deploy_id = i.health_deploy_id();
  for (const auto& p : i.pending_test_cases()) {
    m.pending_test_cases[p.test_run_id()] = PendingTestCases{
        p.test_run_id(), p.deploy_id(), p.target_url(), {p.cases().begin(), p.cases().end()}};
  }
  m.finished_test_cases.insert(i.finished_test_cases().begin(), i.finished_test_cases().end());
  m.after_deploy_requested.insert(i.after_deploy_requested().begin(),
                                  i.after_deploy_requested().end());
  m.log_sessions.insert(i.log_sessions().begin(), i.log_sessions().end());
  m.open_terminals.insert(i.open_terminals().begin(), i.open_terminals().end());
  m.closed_terminals.insert(i.closed_terminals().begin(), i.closed_terminals().end());
}

void put_environment(const std::string& stream, const EnvironmentState& e,
                     pb::EnvironmentStateSnapshot* o) {
  o->set_stream(stream);
  o->set_project_id(e.project_id);
  o->set_environment(e.environment);
  for (const auto& q : e.queue) {
    auto* out = o->add_queue();
    out->set_deploy_id(q.deploy_id);
    out->set_attempt(q.attempt);
    out->set_run_id(q.run_id);
    out->set_rollback_id(q.rollback_id);
    out->set_request_event_id(q.request_event_id);
    *out->mutable_spec() = q.spec;
    out->set_started(q.started);
  }
  o->set_in_flight_since_us(e.in_flight_since_us);
  for (const auto& s : e.succeeded) {
    auto* out = o->add_succeeded();
    out->set_event_id(s.event_id);
    out->set_deploy_id(s.deploy_id);
    out->set_attempt(s.attempt);
    out->set_run_id(s.run_id);
    *out->mutable_spec() = s.spec;
    out->set_url(s.url);
    out->set_occurred_at_us(s.occurred_at_us);
  }
  for (const auto* entry : sorted(e.finished)) {
    const FinishedDeploy& f = entry->second;
    auto* out = o->add_finished();
    out->set_key(entry->first);
    out->set_succeeded(f.succeeded);
    out->set_cancelled(f.cancelled);
    out->set_run_id(f.run_id);
    out->set_url(f.url);
    out->set_reason(f.reason);
    out->set_event_id(f.event_id);
  }
  put_sorted(e.queued, o->mutable_queued());
  put_sorted(e.rollbacks, o->mutable_rollbacks());
  o->set_last_removed_was_in_flight(e.last_removed_was_in_flight);
  put_canary(e.canary, o->mutable_canary());
  put_maintenance(e.maintenance, o->mutable_maintenance());
}

void get_environment(pb::EnvironmentStateSnapshot& i, EnvironmentState& e) {
  e.project_id = i.project_id();
  e.environment = i.environment();
  for (auto& q : *i.mutable_queue()) {
    e.queue.push_back(QueuedDeploy{q.deploy_id(), q.attempt(), q.run_id(), q.rollback_id(),
                                   q.request_event_id(), std::move(*q.mutable_spec()),
                                   q.started()});
  }
  e.in_flight_since_us = i.in_flight_since_us();
  e.succeeded.reserve(static_cast<size_t>(i.succeeded_size()));
  for (auto& s : *i.mutable_succeeded()) {
    e.succeeded.push_back(
        SucceededDeploy{std::move(*s.mutable_event_id()), std::move(*s.mutable_deploy_id()),
                        s.attempt(), std::move(*s.mutable_run_id()), std::move(*s.mutable_spec()),
                        std::move(*s.mutable_url()), s.occurred_at_us()});
  }
  e.finished.reserve(static_cast<size_t>(i.finished_size()));
  for (auto& f : *i.mutable_finished()) {
    e.finished.emplace(std::move(*f.mutable_key()),
                       FinishedDeploy{f.succeeded(), f.cancelled(), std::move(*f.mutable_run_id()),
                                      std::move(*f.mutable_url()), std::move(*f.mutable_reason()),
                                      std::move(*f.mutable_event_id())});
  }
  e.queued.insert(i.queued().begin(), i.queued().end());
  e.rollbacks.insert(i.rollbacks().begin(), i.rollbacks().end());
  e.last_removed_was_in_flight = i.last_removed_was_in_flight();
  get_canary(*i.mutable_canary(), e.canary);
  get_maintenance(*i.mutable_maintenance(), e.maintenance);
}

void put_project(const ProjectState& p, pb::ProjectStateSnapshot* o) {
  o->set_exists(p.exists);
  o->set_project_id(p.project_id);
  o->set_name(p.name);
  o->set_owner(p.owner);
  *o->mutable_repository() = p.repository;
  for (const auto& env : p.environments) *o->add_environments() = env;
  *o->mutable_pipeline() = p.pipeline;
}

void get_project(pb::ProjectStateSnapshot& i, ProjectState& p) {
  p.exists = i.exists();
  p.project_id = i.project_id();
  p.name = i.name();
  p.owner = i.owner();
  p.repository = std::move(*i.mutable_repository());
  for (auto& env : *i.mutable_environments()) p.environments.push_back(std::move(env));
  p.pipeline = std::move(*i.mutable_pipeline());
}

void put_access(const AccessState& a, pb::AccessStateSnapshot* o) {
  o->set_project_id(a.project_id);
  for (const auto& [user, roles] : a.roles) {
    auto* out = o->add_roles();
    out->set_user(user);
    for (auto role : roles) out->add_roles(role);
  }
  for (const auto& [id, request] : a.pending) *o->add_pending() = request;
  for (const auto& id : a.decided_requests) o->add_decided_requests(id);
  for (const auto& g : a.ever_granted) o->add_ever_granted(g);
}

void get_access(const pb::AccessStateSnapshot& i, AccessState& a) {
  a.project_id = i.project_id();
  for (const auto& r : i.roles()) {
    auto& held = a.roles[r.user()];
    for (int k = 0; k < r.roles_size(); ++k) held.insert(r.roles(k));
  }
  for (const auto& request : i.pending()) a.pending[request.request_id()] = request;
  a.decided_requests.insert(i.decided_requests().begin(), i.decided_requests().end());
  a.ever_granted.insert(i.ever_granted().begin(), i.ever_granted().end());
}

}  // namespace

wharf::v1::ProcessStateSnapshot to_snapshot(const ProcessState& state) {
  pb::ProcessStateSnapshot out;
  for (const auto* entry : sorted(state.runs_)) {
    auto* r = out.add_runs();
    put_run(entry->second, r);
    r->set_key(entry->first);
  }
  for (const auto* entry : sorted(state.environments_)) {
    put_environment(entry->first, entry->second, out.add_environments());
  }
  for (const auto* entry : sorted(state.projects_)) {
    auto* p = out.add_projects();
    put_project(entry->second, p);
    p->set_key(entry->first);
  }
  for (const auto* entry : sorted(state.accesses_)) {
    auto* a = out.add_accesses();
    put_access(entry->second, a);
    a->set_key(entry->first);
  }
  for (const auto& id : state.cancelled_order_) out.add_cancelled_runs(id);  // oldest first
  out.set_drop_next(state.drop_next_);
  out.set_last_position(state.last_position_);
  return out;
}

bool from_snapshot(wharf::v1::ProcessStateSnapshot&& in, ProcessState& state) {
  ProcessState s;
  s.runs_.reserve(static_cast<size_t>(in.runs_size()));
  for (auto& r : *in.mutable_runs()) {
    if (!get_run(r, s.runs_[r.key()])) return false;
  }
  s.environments_.reserve(static_cast<size_t>(in.environments_size()));
  for (auto& e : *in.mutable_environments()) get_environment(e, s.environments_[e.stream()]);
  for (auto& p : *in.mutable_projects()) get_project(p, s.projects_[p.key()]);
  for (const auto& a : in.accesses()) get_access(a, s.accesses_[a.key()]);
  for (const auto& id : in.cancelled_runs()) s.remember_cancelled(id);
  s.drop_next_ = in.drop_next();
  s.last_position_ = in.last_position();
  state = std::move(s);
  return true;
}

}  // namespace wharf::engine
