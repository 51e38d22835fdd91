#include "adapters/runtime/health_monitor.h"

#include <spdlog/spdlog.h>

#include "adapters/local/http_probe.h"

namespace wharf::runtime {

namespace {

std::string probe_url(const std::string& base, const std::string& path) {
  if (path.empty()) return base;
  if (!base.empty() && base.back() == '/' && path.front() == '/') return base + path.substr(1);
  return base + (path.front() == '/' ? "" : "/") + path;
}

}  // namespace

HealthMonitor::HealthMonitor(ProcessManager& manager, CommandBus& bus, const Clock& clock,
                             HealthMonitorOptions options)
    : manager_(manager), bus_(bus), clock_(clock), options_(options) {
  if (options_.probes_per_interval == 0) options_.probes_per_interval = 1;
}

HealthMonitor::~HealthMonitor() {
  stop();
}

void HealthMonitor::start() {
  if (options_.interval.count() <= 0 || thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    const auto pause = options_.interval / options_.probes_per_interval;
    while (run_interval(pause)) {
    }
  });
  spdlog::info("health monitor: every {} ms, {} probe(s) per interval, unhealthy after {}",
               options_.interval.count(), options_.probes_per_interval, options_.unhealthy_after);
}

void HealthMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool HealthMonitor::sleep_for(std::chrono::milliseconds pause) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, pause, [this] { return stopping_; });
}

std::vector<HealthMonitor::Target> HealthMonitor::targets() const {
  std::vector<Target> out;
  manager_.inspect([&](const engine::ProcessState& state) {
    for (const auto& [stream, env] : state.environments()) {
      const engine::SucceededDeploy* current = env.serving();
      if (current == nullptr || env.project_id.empty()) continue;
      if (current->url.rfind("http://", 0) != 0) continue;  // nothing wharf can reach
      out.push_back({env.project_id, env.environment, current->deploy_id,
                     probe_url(current->url, current->spec.health_path())});
    }
  });
  return out;
}

std::vector<HealthMonitor::Verdict> HealthMonitor::verdicts() const {
  std::vector<Verdict> out;
  manager_.inspect([&](const engine::ProcessState& state) {
    for (const auto& [stream, env] : state.environments()) {
      const engine::SucceededDeploy* current = env.serving();
      if (current == nullptr || env.project_id.empty()) continue;
      int value = -1;
      if (env.maintenance.health_deploy_id == current->deploy_id) {
        if (env.maintenance.health == wharf::v1::HEALTH_STATE_HEALTHY) value = 1;
        if (env.maintenance.health == wharf::v1::HEALTH_STATE_UNHEALTHY) value = 0;
      }
      out.push_back({env.project_id, env.environment, value});
    }
  });
  return out;
}

bool HealthMonitor::run_interval(std::chrono::milliseconds pause) {
  const std::vector<Target> probed = targets();
  std::vector<std::vector<engine::HealthSample>> samples(probed.size());
  uint64_t probes = 0, failed = 0;
  for (uint32_t round = 0; round < options_.probes_per_interval; ++round) {
    if (!sleep_for(pause)) return false;
    for (size_t i = 0; i < probed.size(); ++i) {
      auto response = local::http_get_url(probed[i].url, options_.probe_timeout);
      engine::HealthSample s;
      if (!response) {
        s.detail = response.error();
      } else {
        s.ok = response->status >= 200 && response->status < 400;
        s.detail = "HTTP " + std::to_string(response->status);
      }
      ++probes;
      failed += s.ok ? 0 : 1;
      samples[i].push_back(std::move(s));
    }
  }
  uint64_t recorded = 0;
  for (size_t i = 0; i < probed.size(); ++i) {
    engine::ObserveHealth cmd;
    cmd.project_id = probed[i].project_id;
    cmd.environment = probed[i].environment;
    cmd.deploy_id = probed[i].deploy_id;
    cmd.url = probed[i].url;
    cmd.samples = std::move(samples[i]);
    cmd.unhealthy_after = options_.unhealthy_after;
    cmd.healthy_after = options_.healthy_after;
    engine::Context ctx;
    ctx.actor.set_id("system");
    ctx.actor.set_channel(wharf::v1::CHANNEL_SYSTEM);
    ctx.now_us = clock_.now_us();
    ctx.command_id = "health/" + cmd.deploy_id + "/" + std::to_string(ctx.now_us);
    auto outcome = bus_.execute(cmd, ctx);
    if (outcome && !outcome->nothing_to_do) {
      ++recorded;
      spdlog::info("health: {} of {} changed ({})", cmd.environment, cmd.project_id,
                   cmd.samples.back().detail);
    } else if (!outcome && !outcome.error().stale()) {
      spdlog::warn("health: {} of {}: {}", cmd.environment, cmd.project_id,
                   outcome.error().message());
    }
  }
  std::lock_guard lock(mutex_);
  ++stats_.intervals;
  stats_.probes += probes;
  stats_.failed_probes += failed;
  stats_.observations += recorded;
  return !stopping_;
}

HealthMonitor::Stats HealthMonitor::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace wharf::runtime
