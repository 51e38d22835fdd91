#include "adapters/router/canary_analysis.h"

#include <boost/json.hpp>
#include <cstdio>

namespace wharf::router {
namespace json = boost::json;

namespace {

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate * 100.0);
  return buf;
}

}  // namespace

std::optional<engine::CanaryVerdict> judge(const wharf::v1::CanaryAnalysis& analysis,
                                           const Observation& seen) {
  engine::CanaryVerdict v;
  auto& f = v.figures;
  f.set_requests(seen.since_step.canary.requests);
  f.set_errors(seen.since_step.canary.errors);
  f.set_stable_requests(seen.since_step.stable.requests);
  f.set_stable_errors(seen.since_step.stable.errors);
  f.set_error_rate(f.requests() == 0 ? 0.0 : double(f.errors()) / double(f.requests()));
  f.set_healthy(seen.healthy.value_or(true));
  f.set_source("router");
  if (seen.healthy && !*seen.healthy) {
    f.set_source("health");
    v.reason = "canary health check failed";
    return v;
  }
  if (analysis.max_error_rate() <= 0.0) return std::nullopt;
  if (seen.external_rate) {
    f.set_source("prometheus");
    f.set_error_rate(*seen.external_rate);
  } else if (f.requests() == 0 || f.requests() < analysis.min_requests()) {
    return std::nullopt;  // too little traffic for a verdict
  }
  if (f.error_rate() <= analysis.max_error_rate()) return std::nullopt;
  v.reason = "canary error rate " + percent(f.error_rate()) + " over the limit " +
             percent(analysis.max_error_rate());
  if (f.source() == "router") {
    v.reason += " (" + std::to_string(f.errors()) + " of " + std::to_string(f.requests()) +
                " requests failed)";
  }
  return v;
}

Expected<double, std::string> prometheus_value(const std::string& body) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return unexpected(std::string("not a JSON object"));
  const auto* data = doc.as_object().if_contains("data");
  const auto* result =
      data && data->is_object() ? data->as_object().if_contains("result") : nullptr;
  if (!result || !result->is_array() || result->as_array().empty()) {
    return unexpected(std::string("the query returned no sample"));
  }
  const auto& first = result->as_array().front();
  const auto* value = first.is_object() ? first.as_object().if_contains("value") : nullptr;
  if (!value || !value->is_array() || value->as_array().size() != 2 ||
      !value->as_array()[1].is_string()) {
    return unexpected(std::string("the sample has no [time, \"value\"] pair"));
  }
  std::string text(value->as_array()[1].as_string());
  char* end = nullptr;
  double rate = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return unexpected("not a number: \"" + text + "\"");
  return rate;
}

}  // namespace wharf::router
