#pragma once
// What `wharf serve` runs for application maintenance (docs/operations.md):
// the health monitor and the host of log and terminal sessions, with their
// flags (also WHARF_* variables and TOML keys like every serve setting).
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "adapters/runtime/health_monitor.h"
#include "adapters/runtime/runtime.h"
#include "api/app.h"
#include "api/maintenance.h"

namespace wharf::cli {

struct MaintenanceConfig {
  int health_interval_s = 15;  // 0 = no health monitor
  int health_probes = 3;       // probes per interval
  int health_unhealthy_after = 2;
  int health_healthy_after = 1;
  int terminal_idle_s = 600;
  std::string terminal_shell = "/bin/sh";
  int max_sessions = 32;
};

void add_maintenance_options(CLI::App& serve, MaintenanceConfig& config);

class MaintenanceServe {
 public:
  // `start_health` false (cluster followers): the monitor starts only when
  // start_health_monitor() is called, on becoming leader.
  MaintenanceServe(const MaintenanceConfig& config, runtime::Runtime& runtime,
                   bool start_health = true);
  void start_health_monitor();
  ~MaintenanceServe();  // stop()
  // Hands the session host to the API (before the Server is constructed).
  void attach(api::Services& services) { services.maintenance = &host_; }
  // wharf_environment_healthy, wharf_health_probes_total, wharf_health_changes_total,
  // wharf_maintenance_open_sessions.
  void register_metrics(api::MetricsRegistry& metrics);
  // Ends log and terminal sessions and the monitor (after the HTTP server stopped).
  void stop();

 private:
  api::MaintenanceHost host_;
  std::unique_ptr<runtime::HealthMonitor> health_;
};

}  // namespace wharf::cli
