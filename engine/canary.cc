#include "engine/canary.h"

#include <cstdio>

#include "engine/environment.h"
#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;

NewEvent canary_event(const CanaryState& c) {
  NewEvent e;
  e.correlation_id = c.canary_id;
  return e;
}

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate * 100.0);
  return buf;
}

// The events that put the active canary (or the one being started) at step
// `index`: a CanaryStepReached, or CanaryPromoted once the weight reaches 100
// or the steps run out.
void reach_step(const CanaryState& c, const std::string& project, const std::string& environment,
                uint32_t index, const std::string& by, bool by_user, std::vector<NewEvent>& out) {
  const auto& steps = c.strategy.steps();
  if (index >= static_cast<uint32_t>(steps.size()) ||
      steps[static_cast<int>(index)].weight() >= 100) {
    NewEvent e = canary_event(c);
    auto* p = e.payload.mutable_canary_promoted();
    p->set_canary_id(c.canary_id);
    p->set_project_id(project);
    p->set_environment(environment);
    p->set_version(c.version);
    p->set_deploy_id(c.deploy_id);
    p->set_promoted_by(by);
    out.push_back(std::move(e));
    return;
  }
  const auto& step = steps[static_cast<int>(index)];
  NewEvent e = canary_event(c);
  auto* s = e.payload.mutable_canary_step_reached();
  s->set_canary_id(c.canary_id);
  s->set_project_id(project);
  s->set_environment(environment);
  s->set_step(index);
  s->set_weight(step.weight());
  s->set_pause_s(step.pause_s());
  s->set_manual(step.manual());
  if (by_user) s->set_promoted_by(by);
  out.push_back(std::move(e));
  // A step with neither a pause nor a manual gate moves on at once.
  if (!step.manual() && step.pause_s() == 0) {
    reach_step(c, project, environment, index + 1, by, by_user, out);
  }
}

// The active canary the command names, or why there is none.
std::optional<Rejection> check_active(const EnvironmentState& env, const std::string& project,
                                      const std::string& environment, const std::string& canary_id,
                                      const char* action) {
  const CanaryState& c = env.canary;
  if (!canary_id.empty() && !(c.active && c.canary_id == canary_id)) {
    auto done = c.finished.find(canary_id);
    if (done != c.finished.end()) {
      return Rejection{Code::kStale, "canary " + canary_id + " in " + environment +
                                         " was already " + done->second + "; cannot " + action};
    }
    return Rejection{Code::kNotFound,
                     "no canary " + canary_id + " in " + environment + " of project " + project};
  }
  if (!c.active) {
    return Rejection{Code::kInvalidTransition, "no canary is in progress in " + environment +
                                                   " of project " + project + "; cannot " + action};
  }
  return std::nullopt;
}

Decision decide_promote(const EnvironmentState& env, const PromoteCanary& cmd, const Context& ctx) {
  if (auto r = check_active(env, cmd.project_id, cmd.environment, cmd.canary_id, "promote")) {
    return unexpected(*r);
  }
  const CanaryState& c = env.canary;
  std::vector<NewEvent> out;
  uint32_t next = cmd.full ? static_cast<uint32_t>(c.strategy.steps_size()) : c.step + 1;
  reach_step(c, cmd.project_id, cmd.environment, next, ctx.actor.id(), true, out);
  return out;
}

Decision decide_abort(const EnvironmentState& env, const AbortCanary& cmd, const Context& ctx) {
  if (auto r = check_active(env, cmd.project_id, cmd.environment, cmd.canary_id, "abort")) {
    // The analysis may report after a user already ended the canary: nothing to do.
    if (cmd.automatic && r->code == Code::kStale) return std::vector<NewEvent>{};
    return unexpected(*r);
  }
  const CanaryState& c = env.canary;
  NewEvent e = canary_event(c);
  auto* a = e.payload.mutable_canary_aborted();
  a->set_canary_id(c.canary_id);
  a->set_project_id(cmd.project_id);
  a->set_environment(cmd.environment);
  std::string reason = cmd.reason;
  if (reason.empty()) {
    reason = cmd.automatic ? "canary error rate " + percent(cmd.figures.error_rate()) + " over " +
                                 percent(c.strategy.analysis().max_error_rate())
                           : "aborted by " + ctx.actor.id();
  }
  a->set_reason(std::move(reason));
  a->set_automatic(cmd.automatic);
  *a->mutable_figures() = cmd.figures;
  a->set_step(c.step);
  a->set_weight(c.weight);
  a->set_aborted_by(ctx.actor.id());
  a->set_version(c.version);
  a->set_stable_version(c.stable_version);
  std::vector<NewEvent> out;
  out.push_back(std::move(e));
  return out;
}

Decision decide_pause_over(const EnvironmentState& env, const ExpireTimer& t) {
  const CanaryState& c = env.canary;
  const wharf::v1::CanaryStep* step = c.current_step();
  // A timer of a canary that moved on (promoted by hand, aborted) is a no-op.
  if (!c.active || c.canary_id != t.deploy_id || c.step + 1 != t.attempt || step == nullptr ||
      step->manual()) {
    return std::vector<NewEvent>{};
  }
  std::vector<NewEvent> out;
  reach_step(c, t.project_id, t.environment, c.step + 1, "system", false, out);
  return out;
}

bool known_canary(const CanaryState& c, const std::string& canary_id) {
  return (c.active && c.canary_id == canary_id) || c.finished.count(canary_id) != 0;
}

Decision decide_dubbo_rule(const EnvironmentState& env, const RecordDubboRule& cmd) {
  const CanaryState& c = env.canary;
  const auto& p = cmd.rule;
  std::vector<NewEvent> out;
  NewEvent e;
  switch (p.kind_case()) {
    case wharf::v1::Payload::kDubboRuleWritten: {
      const auto& w = p.dubbo_rule_written();
      if (!known_canary(c, w.canary_id())) {
        return reject(Code::kNotFound, "no canary " + w.canary_id() + " in " + cmd.environment);
      }
      if (w.path().empty() || (w.kind() != "configurators" && w.kind() != "tag-router")) {
        return reject(Code::kInvalidArgument, "a Dubbo rule needs a path and a known kind");
      }
      auto it = c.dubbo_rules.find(w.path());
      if (it != c.dubbo_rules.end() && it->second.canary_id == w.canary_id() &&
          it->second.yaml == w.yaml() && it->second.version == w.znode_version()) {
        return out;  // recorded already (a retry after a restart)
      }
      e.correlation_id = w.canary_id();
      *e.payload.mutable_dubbo_rule_written() = w;
      break;
    }
    case wharf::v1::Payload::kDubboRuleSnapshotted: {
      const auto& s = p.dubbo_rule_snapshotted();
      if (!known_canary(c, s.canary_id())) {
        return reject(Code::kNotFound, "no canary " + s.canary_id() + " in " + cmd.environment);
      }
      auto it = c.dubbo_rules.find(s.path());
      if (it != c.dubbo_rules.end() && it->second.has_snapshot) return out;  // kept already
      e.correlation_id = s.canary_id();
      *e.payload.mutable_dubbo_rule_snapshotted() = s;
      break;
    }
    case wharf::v1::Payload::kDubboRuleRemoved: {
      const auto& r = p.dubbo_rule_removed();
      // Only a rule wharf owns is removed, once.
      if (c.dubbo_rules.count(r.path()) == 0) return out;
      e.correlation_id = r.canary_id();
      *e.payload.mutable_dubbo_rule_removed() = r;
      break;
    }
    default:
      return reject(Code::kInvalidArgument, "RecordDubboRule carries no Dubbo rule event");
  }
  auto set_ids = [&](auto* m) {
    m->set_project_id(cmd.project_id);
    m->set_environment(cmd.environment);
  };
  switch (e.payload.kind_case()) {
    case wharf::v1::Payload::kDubboRuleWritten:
      set_ids(e.payload.mutable_dubbo_rule_written());
      break;
    case wharf::v1::Payload::kDubboRuleSnapshotted:
      set_ids(e.payload.mutable_dubbo_rule_snapshotted());
      break;
    default:
      set_ids(e.payload.mutable_dubbo_rule_removed());
  }
  out.push_back(std::move(e));
  return out;
}

}  // namespace

std::string canary_id_of(const std::string& deploy_id, uint32_t attempt) {
  return short_id("c", deploy_id + "#" + std::to_string(attempt));
}

std::vector<NewEvent> canary_started(const EnvironmentState& env, const wharf::v1::DeploySpec& spec,
                                     const std::string& deploy_id, uint32_t attempt,
                                     const std::string& url, const std::string& requested_by,
                                     int succeeded_index) {
  CanaryState c;
  c.canary_id = canary_id_of(deploy_id, attempt);
  c.deploy_id = deploy_id;
  c.version = spec.version();
  c.strategy = spec.canary();
  std::vector<NewEvent> out;
  NewEvent e = canary_event(c);
  e.caused_by = succeeded_index;
  auto* s = e.payload.mutable_canary_started();
  s->set_canary_id(c.canary_id);
  s->set_project_id(env.project_id);
  s->set_environment(env.environment);
  s->set_deploy_id(deploy_id);
  s->set_attempt(attempt);
  s->set_version(spec.version());
  s->set_stable_version(env.canary.stable_version);
  s->set_stable_deploy_event_id(env.canary.stable_event_id);
  *s->mutable_strategy() = spec.canary();
  s->set_url(url);
  s->set_requested_by(requested_by);
  out.push_back(std::move(e));
  reach_step(c, env.project_id, env.environment, 0, "system", false, out);
  return out;
}

void apply_canary(CanaryState& c, const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kDeploySucceeded: {
      const auto& s = p.deploy_succeeded();
      if (s.spec().has_canary()) {
        c.deploy_event_id = event.event_id();
        c.spec = s.spec();
        c.url = s.url();
      } else {
        c.stable_event_id = event.event_id();
        c.stable_deploy_id = s.deploy_id();
        c.stable_version = s.spec().version();
        c.stable_url = s.url();
      }
      break;
    }
    case wharf::v1::Payload::kCanaryStarted: {
      const auto& s = p.canary_started();
      c.active = true;
      c.canary_id = s.canary_id();
      c.deploy_id = s.deploy_id();
      c.attempt = s.attempt();
      c.version = s.version();
      c.url = s.url();
      c.strategy = s.strategy();
      c.step = 0;
      c.weight = 0;
      c.step_since_us = event.occurred_at_us();
      break;
    }
    case wharf::v1::Payload::kCanaryStepReached:
      c.step = p.canary_step_reached().step();
      c.weight = p.canary_step_reached().weight();
      c.step_since_us = event.occurred_at_us();
      break;
    case wharf::v1::Payload::kCanaryPromoted:
      c.active = false;
      c.finished[p.canary_promoted().canary_id()] = "promoted";
      c.stable_event_id = c.deploy_event_id;
      c.stable_deploy_id = c.deploy_id;
      c.stable_version = c.version;
      c.stable_url = c.url;
      c.weight = 100;
      break;
    case wharf::v1::Payload::kCanaryAborted:
      c.active = false;
      c.finished[p.canary_aborted().canary_id()] = "aborted";
      c.weight = 0;
      break;
    case wharf::v1::Payload::kDubboRuleSnapshotted: {
      const auto& s = p.dubbo_rule_snapshotted();
      DubboRuleState& r = c.dubbo_rules[s.path()];
      r.canary_id = s.canary_id();
      r.has_snapshot = true;
      r.snapshot_yaml = s.yaml();
      r.snapshot_version = s.znode_version();
      break;
    }
    case wharf::v1::Payload::kDubboRuleWritten: {
      const auto& w = p.dubbo_rule_written();
      DubboRuleState& r = c.dubbo_rules[w.path()];
      r.canary_id = w.canary_id();
      r.kind = w.kind();
      r.yaml = w.yaml();
      r.version = w.znode_version();
      break;
    }
    case wharf::v1::Payload::kDubboRuleRemoved:
      c.dubbo_rules.erase(p.dubbo_rule_removed().path());
      break;
    default:
      break;
  }
}

std::optional<Decision> decide_canary(const EnvironmentState& env, const Command& command,
                                      const Context& context) {
  if (const auto* c = std::get_if<PromoteCanary>(&command)) {
    return decide_promote(env, *c, context);
  }
  if (const auto* c = std::get_if<AbortCanary>(&command)) return decide_abort(env, *c, context);
  if (const auto* c = std::get_if<RecordDubboRule>(&command)) return decide_dubbo_rule(env, *c);
  if (const auto* c = std::get_if<ExpireTimer>(&command)) {
    if (c->step == wharf::v1::STEP_KIND_CANARY) return decide_pause_over(env, *c);
  }
  return std::nullopt;
}

}  // namespace wharf::engine
