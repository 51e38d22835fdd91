#pragma once
// The JSON form of a canary strategy (docs/canary.md), as an environment's
// "canary" field:
//   {"steps": [{"weight": 10, "pause": "5m"}, {"weight": 50, "pause": "manual"},
//              {"weight": 100}],
//    "match": {"header": "X-Canary", "header_value": "1", "cookie": "canary"},
//    "analysis": {"max_error_rate": 0.05, "min_requests": 20, "interval_s": 5,
//                 "check_health": true, "prometheus_query_url": "http://..."},
//    "mode": "replicas" | "ingress"}
// A pause is "manual", a duration ("90s", "5m", "1h") or a number of seconds.
#include <string_view>

#include "api/json_input.h"
#include "wharf/v1/canary.pb.h"

namespace wharf::api {

wharf::v1::CanaryStrategy parse_canary_strategy(const JsonBody& parent, std::string_view field);

}  // namespace wharf::api
