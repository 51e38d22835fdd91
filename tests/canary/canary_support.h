#pragma once
// What the Kubernetes and Swarm canary tests share: a canary deploy job, the
// traffic the process manager hands a canary target, and waiting for a
// deploy's outcome.
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/ports.h"

namespace wharf::canary_testing {

// A canary strategy 10% (manual) -> 50% (manual) -> 100%.
inline wharf::v1::CanaryStrategy ten_fifty_hundred(const std::string& mode = "") {
  wharf::v1::CanaryStrategy s;
  for (uint32_t w : {10u, 50u, 100u}) {
    auto* step = s.add_steps();
    step->set_weight(w);
    step->set_manual(w < 100);
  }
  s.set_mode(mode);
  return s;
}

inline engine::DeployJob canary_job(const std::string& id, const std::string& version,
                                    wharf::v1::TargetType target,
                                    const wharf::v1::CanaryStrategy& strategy) {
  engine::DeployJob j;
  j.deploy_id = "d-" + id + "-" + version;
  j.project_id = "web";
  j.environment = id;
  j.attempt = 1;
  j.spec.set_version(version);
  j.spec.set_target(target);
  (*j.spec.mutable_config())["GREETING"] = "canary";
  *j.spec.mutable_canary() = strategy;
  return j;
}

inline engine::CanaryTraffic traffic(const engine::DeployJob& job,
                                     engine::CanaryTraffic::Phase phase, uint32_t step = 0) {
  engine::CanaryTraffic t;
  t.phase = phase;
  t.canary_id = "c-" + job.deploy_id;
  t.project_id = job.project_id;
  t.environment = job.environment;
  t.deploy_id = job.deploy_id;
  t.attempt = job.attempt;
  t.step = step;
  t.strategy = job.spec.canary();
  t.weight = phase == engine::CanaryTraffic::Phase::kStep       ? t.strategy.steps(step).weight()
             : phase == engine::CanaryTraffic::Phase::kPromoted ? 100
                                                                : 0;
  t.spec = job.spec;
  return t;
}

inline engine::DeployOutcome deploy(engine::DeployTarget& target, const engine::DeployJob& job) {
  auto promise = std::make_shared<std::promise<engine::DeployOutcome>>();
  target.start(job, {[](const engine::StepProgress&) {},
                     [promise](const engine::DeployOutcome& o) { promise->set_value(o); }});
  auto future = promise->get_future();
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    throw std::runtime_error("no deploy outcome within 60 s");
  }
  return future.get();
}

// Hands `t` to the target and waits until it is applied; returns its error ("" = applied).
template <typename Target>
std::string apply(Target& target, const engine::CanaryTraffic& t) {
  target.set(t, [](const engine::CanaryVerdict&) {});
  if (!target.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(60))) {
    return "not applied within 60 s";
  }
  return target.last_error(t.project_id, t.environment);
}

// Records the verdicts a canary target reports.
struct Verdicts {
  std::mutex mutex;
  std::vector<engine::CanaryVerdict> seen;
  std::function<void(const engine::CanaryVerdict&)> sink() {
    return [this](const engine::CanaryVerdict& v) {
      std::lock_guard lock(mutex);
      seen.push_back(v);
    };
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
};

}  // namespace wharf::canary_testing
