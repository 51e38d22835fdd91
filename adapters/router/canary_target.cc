#include "adapters/router/canary_target.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "adapters/local/deploy_target.h"
#include "adapters/local/state_file.h"

namespace wharf::router {

namespace {

using Phase = engine::CanaryTraffic::Phase;

std::string key_of(const std::string& project_id, const std::string& environment) {
  return project_id + "/" + environment;
}

SideCounts minus(const SideCounts& a, const SideCounts& b) {
  return {a.requests - b.requests, a.errors - b.errors};
}

std::optional<Upstream> upstream(const std::string& url, const std::string& canary_id) {
  if (url.empty()) return std::nullopt;
  auto u = parse_upstream(url);
  if (!u) {
    spdlog::warn("canary {}: {}", canary_id, u.error());
    return std::nullopt;
  }
  return *u;
}

}  // namespace

LocalCanaryTarget::LocalCanaryTarget(local::LocalDeployTarget* instances,
                                     CanaryRouterOptions options)
    : instances_(instances), options_(std::move(options)) {
  if (!options_.ports_file.empty() && options_.base_port != 0) {
    const auto saved = local::read_json_file(options_.ports_file).value_or(boost::json::object{});
    for (const auto& [key, port] : saved) {
      // Slots of another base port (the flag changed) start over.
      const auto p = port.is_number() ? port.to_number<int64_t>() : -1;
      if (p >= options_.base_port && p < options_.base_port + 1000) {
        base_slots_[std::string(key)] = static_cast<uint16_t>(p);
      }
    }
  }
  analyser_ = std::make_unique<CanaryAnalyser>(
      [this](const engine::CanaryTraffic& t) { return observe(t); }, options_.tick);
}

uint16_t LocalCanaryTarget::base_slot(const std::string& key) {
  if (auto it = base_slots_.find(key); it != base_slots_.end()) return it->second;
  auto taken = [this](uint16_t port) {
    return std::any_of(base_slots_.begin(), base_slots_.end(),
                       [port](const auto& slot) { return slot.second == port; });
  };
  uint16_t port = options_.base_port;  // the lowest one no environment has
  while (taken(port)) ++port;
  base_slots_[key] = port;
  if (!options_.ports_file.empty()) {
    boost::json::object saved;
    for (const auto& [k, p] : base_slots_) saved[k] = p;
    if (!local::write_json_file(options_.ports_file, saved)) {
      spdlog::warn("canary router: cannot write {}", options_.ports_file.string());
    }
  }
  return port;
}

LocalCanaryTarget::~LocalCanaryTarget() {
  analyser_.reset();  // no probe reads a router from here on
  for (auto& [key, env] : envs_) env.router->stop();
}

void LocalCanaryTarget::set(const engine::CanaryTraffic& t,
                            std::function<void(const engine::CanaryVerdict&)> abort) {
  std::unique_lock lock(mutex_);
  Env& env = envs_[key_of(t.project_id, t.environment)];
  if (!env.router) {
    uint16_t port = 0;
    const auto& settings = t.spec.target_settings();
    if (auto it = settings.find("router_port"); it != settings.end()) {
      port = static_cast<uint16_t>(std::atoi(it->second.c_str()));
    } else if (options_.base_port != 0) {
      port = base_slot(key_of(t.project_id, t.environment));
    }
    auto router = TrafficRouter::start(options_.listen, port);
    if (!router) {
      spdlog::error("canary {}: {}; traffic stays on the stable version", t.canary_id,
                    router.error());
      envs_.erase(key_of(t.project_id, t.environment));
      return;
    }
    env.router = std::move(*router);
    spdlog::info("canary router for {} of {} on {}:{}", t.environment, t.project_id,
                 options_.listen, env.router->port());
  }
  Routes routes;
  routes.stable = upstream(t.stable_url, t.canary_id);
  switch (t.phase) {
    case Phase::kStep:
      routes.canary = upstream(t.canary_url, t.canary_id);
      routes.weight = t.weight;
      routes.match = t.strategy.match();
      break;
    case Phase::kPromoted:
      routes.stable = upstream(t.canary_url, t.canary_id);
      break;
    case Phase::kAborted:
      break;
  }
  env.router->set_routes(routes);  // first: an abort holds from the next request on
  env.traffic = t;
  env.baseline = env.router->counts();
  spdlog::info(
      "canary {} ({} of {}): {} at {}% on port {}", t.canary_id, t.environment, t.project_id,
      t.phase == Phase::kStep       ? "step " + std::to_string(t.step)
      : t.phase == Phase::kPromoted ? std::string("promoted")
                                    : std::string("aborted"),
      routes.canary ? t.weight : (t.phase == Phase::kPromoted ? 100u : 0u), env.router->port());
  lock.unlock();
  analyser_->track(t, std::move(abort));
  if (instances_ != nullptr && t.phase != Phase::kStep) {
    instances_->finish_canary(t.project_id, t.environment, t.deploy_id, t.attempt,
                              t.phase == Phase::kPromoted);
  }
}

Observation LocalCanaryTarget::observe(const engine::CanaryTraffic& traffic) const {
  RouterCounts baseline;
  const TrafficRouter* router = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = envs_.find(key_of(traffic.project_id, traffic.environment));
    if (it == envs_.end()) return {};
    baseline = it->second.baseline;
    router = it->second.router.get();  // routers live until the destructor
  }
  RouterCounts now = router->counts();
  Observation seen = probe_sources(traffic, traffic.canary_url);
  seen.since_step.stable = minus(now.stable, baseline.stable);
  seen.since_step.canary = minus(now.canary, baseline.canary);
  return seen;
}

std::vector<RouterState> LocalCanaryTarget::routers() const {
  std::lock_guard lock(mutex_);
  std::vector<RouterState> out;
  for (const auto& [key, env] : envs_) {
    RouterState s;
    s.project_id = env.traffic.project_id;
    s.environment = env.traffic.environment;
    s.port = env.router->port();
    s.canary_id = env.traffic.canary_id;
    s.active = env.traffic.phase == Phase::kStep;
    s.weight = s.active ? env.traffic.weight : 0;
    s.counts = env.router->counts();
    out.push_back(std::move(s));
  }
  return out;
}

uint16_t LocalCanaryTarget::port_of(const std::string& project_id,
                                    const std::string& environment) const {
  std::lock_guard lock(mutex_);
  auto it = envs_.find(key_of(project_id, environment));
  return it == envs_.end() ? 0 : it->second.router->port();
}

}  // namespace wharf::router
