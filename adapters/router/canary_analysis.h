#pragma once
// The automatic canary analysis's verdict (docs/canary.md#analysis): pure, so
// the thresholds are tested without traffic. The LocalCanaryTarget feeds it
// the router's counts since the step began, the health probe and, when
// configured, the Prometheus query's answer.
#include <optional>
#include <string>

#include "adapters/router/traffic_router.h"
#include "engine/ports.h"

namespace wharf::router {

struct Observation {
  RouterCounts since_step;              // the router's counts since the step began
  std::optional<bool> healthy;          // the canary's health probe, when probed
  std::optional<double> external_rate;  // the Prometheus query's error rate, when configured
};

// An abort verdict, or nullopt (no breach, or too few requests for one).
std::optional<engine::CanaryVerdict> judge(const wharf::v1::CanaryAnalysis& analysis,
                                           const Observation& seen);

// The first sample of a Prometheus instant-query answer
// ({"data":{"result":[{"value":[<ts>,"<number>"]}]}}), or why there is none.
Expected<double, std::string> prometheus_value(const std::string& body);

}  // namespace wharf::router
