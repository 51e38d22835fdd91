#include "cli/maintenance_serve.h"

#include "api/cluster_sessions.h"

namespace wharf::cli {

namespace {

api::MaintenanceOptions host_options(const MaintenanceConfig& c) {
  api::MaintenanceOptions o;
  o.terminal_idle_timeout = std::chrono::seconds(c.terminal_idle_s);
  o.shell = c.terminal_shell;
  o.max_sessions = static_cast<size_t>(c.max_sessions);
  return o;
}

}  // namespace

void add_maintenance_options(CLI::App& cmd, MaintenanceConfig& c) {
  cmd.add_option("--health-interval", c.health_interval_s,
                 "seconds per health interval of every environment's current deploy (0 = off)")
      ->envname("WHARF_HEALTH_INTERVAL")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--health-probes", c.health_probes, "health probes per interval")
      ->envname("WHARF_HEALTH_PROBES")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--health-unhealthy-after", c.health_unhealthy_after,
                 "failed probes in a row before an environment is unhealthy")
      ->envname("WHARF_HEALTH_UNHEALTHY_AFTER")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--health-healthy-after", c.health_healthy_after,
                 "passing probes in a row before it is healthy again")
      ->envname("WHARF_HEALTH_HEALTHY_AFTER")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--terminal-idle", c.terminal_idle_s,
                 "seconds without input before a terminal session is closed")
      ->envname("WHARF_TERMINAL_IDLE")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--terminal-shell", c.terminal_shell, "shell a terminal session runs")
      ->envname("WHARF_TERMINAL_SHELL")
      ->capture_default_str();
  cmd.add_option("--max-sessions", c.max_sessions, "log and terminal sessions open at once")
      ->envname("WHARF_MAX_SESSIONS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

MaintenanceServe::MaintenanceServe(const MaintenanceConfig& config, runtime::Runtime& runtime,
                                   bool start_health)
    : host_(host_options(config)) {
  host_.set_local(runtime.local_deploy_target());
  api::add_cluster_sessions(host_, runtime.targets());
  if (config.health_interval_s > 0) {
    runtime::HealthMonitorOptions o;
    o.interval = std::chrono::seconds(config.health_interval_s);
    o.probes_per_interval = static_cast<uint32_t>(config.health_probes);
    o.unhealthy_after = static_cast<uint32_t>(config.health_unhealthy_after);
    o.healthy_after = static_cast<uint32_t>(config.health_healthy_after);
    health_ = std::make_unique<runtime::HealthMonitor>(runtime.process_manager(),
                                                       runtime.commands(), runtime.clock(), o);
    if (start_health) health_->start();
  }
}

void MaintenanceServe::start_health_monitor() {
  if (health_) health_->start();
}

MaintenanceServe::~MaintenanceServe() {
  stop();
}

void MaintenanceServe::register_metrics(api::MetricsRegistry& metrics) {
  using Samples = std::vector<api::MetricsRegistry::Sample>;
  metrics.gauge_function("wharf_maintenance_open_sessions", "Open log and terminal sessions", {},
                         [this] {
                           return Samples{{{}, static_cast<double>(host_.open_sessions())}};
                         });
  if (!health_) return;
  runtime::HealthMonitor* health = health_.get();
  metrics.gauge_function(
      "wharf_environment_healthy",
      "Health of each environment's current deploy: 1 healthy, 0 unhealthy, -1 not probed yet",
      {"project", "environment"}, [health] {
        Samples out;
        for (const auto& v : health->verdicts()) {
          out.push_back({{v.project_id, v.environment}, static_cast<double>(v.value)});
        }
        return out;
      });
  metrics.gauge_function("wharf_health_probes_total", "Health probes sent", {}, [health] {
    return Samples{{{}, static_cast<double>(health->stats().probes)}};
  });
  metrics.gauge_function("wharf_health_probe_failures_total", "Health probes that failed", {},
                         [health] {
                           return Samples{{{}, static_cast<double>(health->stats().failed_probes)}};
                         });
  metrics.gauge_function("wharf_health_changes_total", "HealthChanged events recorded", {},
                         [health] {
                           return Samples{{{}, static_cast<double>(health->stats().observations)}};
                         });
}

void MaintenanceServe::stop() {
  host_.stop();
  if (health_) health_->stop();
}

}  // namespace wharf::cli
