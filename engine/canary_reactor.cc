#include "engine/canary_reactor.h"

namespace wharf::engine {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

CanaryTraffic traffic_of(const CanaryState& c, const EnvironmentState& env,
                         CanaryTraffic::Phase phase) {
  CanaryTraffic t;
  t.phase = phase;
  t.canary_id = c.canary_id;
  t.project_id = env.project_id;
  t.environment = env.environment;
  t.deploy_id = c.deploy_id;
  t.attempt = c.attempt;
  t.step = c.step;
  t.weight = phase == CanaryTraffic::Phase::kAborted ? 0 : c.weight;
  t.strategy = c.strategy;
  t.spec = c.spec;
  t.canary_url = c.url;
  t.stable_url = c.stable_url;
  t.dubbo_rules = c.dubbo_rules;
  return t;
}

void pause_timer(const CanaryState& c, const EnvironmentState& env, std::vector<Reaction>& out) {
  const wharf::v1::CanaryStep* step = c.current_step();
  if (!c.active || step == nullptr || step->manual() || step->pause_s() == 0) return;
  ScheduleTimer t;
  t.key = "canary/" + c.canary_id + "/" + std::to_string(c.step + 1);
  t.due_us = c.step_since_us + int64_t(step->pause_s()) * kMicrosPerSecond;
  t.expire.step = wharf::v1::STEP_KIND_CANARY;
  t.expire.project_id = env.project_id;
  t.expire.environment = env.environment;
  t.expire.deploy_id = c.canary_id;
  t.expire.attempt = c.step + 1;
  t.expire.timeout_s = step->pause_s();
  t.context.actor.set_id("system");
  t.context.actor.set_channel(wharf::v1::CHANNEL_SYSTEM);
  t.context.command_id = "timer/" + t.key;
  t.context.correlation_id = c.canary_id;
  out.push_back(std::move(t));
}

}  // namespace

void react_canary(const ProcessState& state, const Envelope& e, std::vector<Reaction>& out) {
  const auto& p = e.payload();
  std::string project, environment;
  CanaryTraffic::Phase phase = CanaryTraffic::Phase::kStep;
  switch (p.kind_case()) {
    case wharf::v1::Payload::kCanaryStepReached:
      project = p.canary_step_reached().project_id();
      environment = p.canary_step_reached().environment();
      break;
    case wharf::v1::Payload::kCanaryPromoted:
      project = p.canary_promoted().project_id();
      environment = p.canary_promoted().environment();
      phase = CanaryTraffic::Phase::kPromoted;
      break;
    case wharf::v1::Payload::kCanaryAborted:
      project = p.canary_aborted().project_id();
      environment = p.canary_aborted().environment();
      phase = CanaryTraffic::Phase::kAborted;
      break;
    default:
      return;
  }
  const EnvironmentState* env = state.environment(project, environment);
  if (env == nullptr) return;
  const CanaryState& c = env->canary;
  // Several steps decided in one append: only the last one moves traffic.
  if (phase == CanaryTraffic::Phase::kStep &&
      (!c.active || c.step != p.canary_step_reached().step())) {
    return;
  }
  out.push_back(SetCanaryTraffic{traffic_of(c, *env, phase)});
  if (phase == CanaryTraffic::Phase::kStep) pause_timer(c, *env, out);
}

void recover_canary(const ProcessState& state, std::vector<Reaction>& out) {
  for (const auto& [stream, env] : state.environments()) {
    const CanaryState& c = env.canary;
    if (!c.active) {
      // A Dubbo canary that ended with rules still in the config center (wharf
      // stopped before it removed them all): finish its promotion or abort.
      if (!c.dubbo_rules.empty()) {
        const std::string& owner = c.dubbo_rules.begin()->second.canary_id;
        auto how = c.finished.find(owner);
        const bool promoted = how != c.finished.end() && how->second == "promoted";
        CanaryTraffic t = traffic_of(
            c, env, promoted ? CanaryTraffic::Phase::kPromoted : CanaryTraffic::Phase::kAborted);
        t.canary_id = owner;
        out.push_back(SetCanaryTraffic{std::move(t)});
      }
      continue;
    }
    out.push_back(SetCanaryTraffic{traffic_of(c, env, CanaryTraffic::Phase::kStep)});
    pause_timer(c, env, out);
  }
}

}  // namespace wharf::engine
