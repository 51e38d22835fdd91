#pragma once
// LocalCanaryTarget: engine::CanaryTarget for the embedded default
// (docs/canary.md). Each environment that runs a canary gets a TrafficRouter
// on its own port (settings "router_port", else base_port + n); a canary step
// points it at the stable and the canary instance with the step's weight and
// the strategy's header/cookie rule; an abort points it back at the stable
// one before anything else happens; a promotion makes the canary the stable
// upstream. While a canary is at a step, a CanaryAnalyser probes it every
// analysis.interval_s (the router's counts since the step began, the health
// path, or the Prometheus query) and reports a breach through `abort` once.
// The canary's process is ended (aborted) or made current (promoted) by the
// LocalDeployTarget, when one is given.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/router/canary_analysis.h"
#include "adapters/router/traffic_router.h"
#include "engine/default_ports.h"
#include "engine/ports.h"

namespace wharf::local {
class LocalDeployTarget;
}

namespace wharf::router {

struct CanaryRouterOptions {
  std::string listen = "127.0.0.1";
  uint16_t base_port = kDefaultRouterBasePort;  // 0: each router on a free port
  // Where the port each environment got from base_port is kept, so a
  // restarted wharf binds an environment's router on the same port whatever
  // order its canaries come back in. Empty: in memory only.
  std::filesystem::path ports_file;
  std::chrono::milliseconds tick{100};          // how often the analyser looks
};

// One environment's router, for /metrics and `canary status`.
struct RouterState {
  std::string project_id;
  std::string environment;
  uint16_t port = 0;
  std::string canary_id;
  bool active = false;
  uint32_t weight = 0;
  RouterCounts counts;  // since the router started
};

class LocalCanaryTarget final : public engine::CanaryTarget {
 public:
  explicit LocalCanaryTarget(local::LocalDeployTarget* instances, CanaryRouterOptions options = {});
  ~LocalCanaryTarget() override;  // stops the analysis and every router

  void set(const engine::CanaryTraffic& traffic,
           std::function<void(const engine::CanaryVerdict&)> abort) override;

  std::vector<RouterState> routers() const;
  // The port of an environment's router, 0 if it has none.
  uint16_t port_of(const std::string& project_id, const std::string& environment) const;

 private:
  struct Env {
    std::unique_ptr<TrafficRouter> router;
    engine::CanaryTraffic traffic;
    RouterCounts baseline;  // counts when the step began
  };
  // The port from base_port for environment `key`: the one it had (also
  // before a restart, ports_file), else the next one.
  uint16_t base_slot(const std::string& key);
  // The router's counts since the step began, plus probe_sources().
  Observation observe(const engine::CanaryTraffic& traffic) const;

  local::LocalDeployTarget* instances_;
  CanaryRouterOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, uint16_t> base_slots_;  // by "<project>/<environment>"; ports_file
  std::map<std::string, Env> envs_;           // by "<project>/<environment>"
  std::unique_ptr<CanaryAnalyser> analyser_;  // reset first: its thread reads envs_
};

}  // namespace wharf::router
