#pragma once
// HealthMonitor: probes the current deploy of every environment that has one
// (its URL + the deploy's health_path, adapters/local/http_probe) a few times
// per interval and hands the interval's probes to the engine as one
// ObserveHealth command. The engine decides whether the verdict changed
// (engine/maintenance.h), so a probe that flaps inside an interval records
// nothing and a change is exactly one HealthChanged. docs/operations.md#health.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/runtime/clock.h"
#include "adapters/runtime/command_bus.h"
#include "adapters/runtime/process_manager.h"

namespace wharf::runtime {

struct HealthMonitorOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(15)};  // 0 = off
  uint32_t probes_per_interval = 3;
  uint32_t unhealthy_after = 2;  // consecutive failed probes before "unhealthy"
  uint32_t healthy_after = 1;    // consecutive passing probes before "healthy"
  std::chrono::milliseconds probe_timeout{std::chrono::seconds(2)};
};

class HealthMonitor {
 public:
  struct Target {
    std::string project_id;
    std::string environment;
    std::string deploy_id;
    std::string url;  // what is probed
  };
  struct Stats {
    uint64_t intervals = 0;
    uint64_t probes = 0;
    uint64_t failed_probes = 0;
    uint64_t observations = 0;  // ObserveHealth commands that appended a HealthChanged
  };
  // Verdicts as the engine holds them, for /metrics: 1 healthy, 0 unhealthy,
  // -1 not probed yet.
  struct Verdict {
    std::string project_id;
    std::string environment;
    int value = -1;
  };

  HealthMonitor(ProcessManager& manager, CommandBus& bus, const Clock& clock,
                HealthMonitorOptions options);
  ~HealthMonitor();  // stop()
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void start();  // a thread running one interval after another
  void stop();

  // The environments with a current deploy to probe, now.
  std::vector<Target> targets() const;
  // One interval on the caller's thread: probes every target
  // probes_per_interval times, `pause` apart, then executes one ObserveHealth
  // per target. Returns false when stopped midway.
  bool run_interval(std::chrono::milliseconds pause);

  Stats stats() const;
  std::vector<Verdict> verdicts() const;

 private:
  bool sleep_for(std::chrono::milliseconds pause);

  ProcessManager& manager_;
  CommandBus& bus_;
  const Clock& clock_;
  HealthMonitorOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace wharf::runtime
