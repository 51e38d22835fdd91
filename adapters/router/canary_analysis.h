#pragma once
// The automatic canary analysis (docs/canary.md#analysis). judge() is the
// verdict, pure, so the thresholds are tested without traffic. The canary
// targets measure with probe_sources() (the canary's health path and the
// Prometheus query) and, on the local router, the router's counts since the
// step began; a CanaryAnalyser runs the probes of every environment at a
// step and reports a breach through the step's `abort`, once.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "adapters/router/traffic_router.h"
#include "engine/ports.h"

namespace wharf::router {

struct Observation {
  RouterCounts since_step;              // the router's counts since the step began (local only)
  std::optional<bool> healthy;          // the canary's health probe, when probed
  std::optional<double> external_rate;  // the Prometheus query's error rate, when configured
};

// An abort verdict, or nullopt (no breach, or too few requests for one).
std::optional<engine::CanaryVerdict> judge(const wharf::v1::CanaryAnalysis& analysis,
                                           const Observation& seen);

// The first sample of a Prometheus instant-query answer
// ({"data":{"result":[{"value":[<ts>,"<number>"]}]}}), or why there is none.
Expected<double, std::string> prometheus_value(const std::string& body);

// GET `query_url` (an instant query, /api/v1/query?query=...) and its first
// sample, or why there is none (no answer, a status other than 200, no sample).
Expected<double, std::string> query_prometheus(const std::string& query_url);

// What the strategy's analysis asks for besides the router's counts: the
// health of `health_url` + spec.health_path() when check_health (2xx/3xx
// within a second is healthy), and the Prometheus query's rate when
// prometheus_query_url is set (absent, with a warning, when it fails).
Observation probe_sources(const engine::CanaryTraffic& traffic, const std::string& health_url);

// The probing thread the canary targets share. For each environment whose
// latest traffic is a step, every analysis.interval_s (0: 5 s) it calls
// `observe` (outside its lock; network calls are fine) and judge(); an abort
// verdict for the step still current goes to that step's `abort`, once per
// step. The destructor stops the thread (an `observe` in hand finishes).
class CanaryAnalyser {
 public:
  using Observe = std::function<Observation(const engine::CanaryTraffic&)>;
  using Abort = std::function<void(const engine::CanaryVerdict&)>;
  explicit CanaryAnalyser(Observe observe,
                          std::chrono::milliseconds tick = std::chrono::milliseconds(100));
  ~CanaryAnalyser();
  CanaryAnalyser(const CanaryAnalyser&) = delete;
  CanaryAnalyser& operator=(const CanaryAnalyser&) = delete;

  // From now on `traffic` is its environment's state: a step is analysed
  // (its first probe one interval from now), a promotion or abort ends it.
  void track(const engine::CanaryTraffic& traffic, Abort abort);

 private:
  struct Env {
    engine::CanaryTraffic traffic;
    Abort abort;
    std::chrono::steady_clock::time_point next_probe{};
    bool analysing = false;
  };
  void loop();

  Observe observe_;
  std::chrono::milliseconds tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, Env> envs_;  // by "<project>/<environment>"
  std::thread thread_;               // last
};

}  // namespace wharf::router
