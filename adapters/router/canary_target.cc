#include "adapters/router/canary_target.h"

#include <spdlog/spdlog.h>

#include "adapters/http/http_client.h"
#include "adapters/local/deploy_target.h"
#include "adapters/local/http_probe.h"

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
  thread_ = std::thread([this] { loop(); });
}

LocalCanaryTarget::~LocalCanaryTarget() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
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
      port = static_cast<uint16_t>(options_.base_port + next_port_++);
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
  env.abort = std::move(abort);
  env.baseline = env.router->counts();
  env.analysing = t.phase == Phase::kStep;
  auto interval = std::chrono::seconds(
      t.strategy.analysis().interval_s() == 0 ? 5 : t.strategy.analysis().interval_s());
  env.next_probe = std::chrono::steady_clock::now() + interval;
  spdlog::info(
      "canary {} ({} of {}): {} at {}% on port {}", t.canary_id, t.environment, t.project_id,
      t.phase == Phase::kStep       ? "step " + std::to_string(t.step)
      : t.phase == Phase::kPromoted ? std::string("promoted")
                                    : std::string("aborted"),
      routes.canary ? t.weight : (t.phase == Phase::kPromoted ? 100u : 0u), env.router->port());
  lock.unlock();
  wake_.notify_all();
  if (instances_ != nullptr && t.phase != Phase::kStep) {
    instances_->finish_canary(t.project_id, t.environment, t.deploy_id, t.attempt,
                              t.phase == Phase::kPromoted);
  }
}

Observation LocalCanaryTarget::observe(const engine::CanaryTraffic& traffic,
                                       const RouterCounts& baseline,
                                       const TrafficRouter& router) const {
  Observation seen;
  RouterCounts now = router.counts();
  seen.since_step.stable = minus(now.stable, baseline.stable);
  seen.since_step.canary = minus(now.canary, baseline.canary);
  const auto& a = traffic.strategy.analysis();
  if (a.check_health() && !traffic.canary_url.empty()) {
    auto r = local::http_get_url(traffic.canary_url + traffic.spec.health_path(),
                                 std::chrono::milliseconds(1000));
    seen.healthy = r && r->status >= 200 && r->status < 400;
  }
  if (!a.prometheus_query_url().empty()) {
    http_client::Request request;
    request.url = a.prometheus_query_url();
    request.timeout = std::chrono::seconds(5);
    auto r = http_client::send(request);
    if (r && r->status == 200) {
      if (auto rate = prometheus_value(r->body)) {
        seen.external_rate = *rate;
      } else {
        spdlog::warn("canary {}: Prometheus answer: {}", traffic.canary_id, rate.error());
      }
    } else {
      spdlog::warn("canary {}: Prometheus query failed: {}", traffic.canary_id,
                   r ? http_client::describe(*r) : r.error());
    }
  }
  return seen;
}

void LocalCanaryTarget::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.tick);
    auto now = std::chrono::steady_clock::now();
    // Probe outside the lock (health and Prometheus are network calls).
    std::vector<std::pair<std::string, Env>> due;
    for (auto& [key, env] : envs_) {
      if (!env.analysing || now < env.next_probe) continue;
      const auto& a = env.traffic.strategy.analysis();
      env.next_probe = now + std::chrono::seconds(a.interval_s() == 0 ? 5 : a.interval_s());
      Env copy;
      copy.traffic = env.traffic;
      copy.baseline = env.baseline;
      copy.abort = env.abort;
      due.emplace_back(key, std::move(copy));
    }
    for (auto& [key, probe] : due) {
      if (stopping_) break;
      Env& env = envs_[key];
      TrafficRouter* router = env.router.get();
      lock.unlock();
      Observation seen = observe(probe.traffic, probe.baseline, *router);
      auto verdict = judge(probe.traffic.strategy.analysis(), seen);
      lock.lock();
      Env& still = envs_[key];
      // The canary may have moved on while we probed: judge only the same step.
      if (!verdict || !still.analysing || still.traffic.canary_id != probe.traffic.canary_id ||
          still.traffic.step != probe.traffic.step) {
        continue;
      }
      still.analysing = false;  // one verdict per step; the abort follows through the log
      spdlog::warn("canary {}: aborting: {}", probe.traffic.canary_id, verdict->reason);
      lock.unlock();
      if (probe.abort) probe.abort(*verdict);
      lock.lock();
    }
  }
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
