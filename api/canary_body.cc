#include "api/canary_body.h"

#include <boost/json.hpp>

#include "api/api_error.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& message) {
  throw bad_request("invalid_value", message, json::object{{"field", field}});
}

// "manual" -> manual; "90s" / "5m" / "1h" / 300 -> seconds.
void parse_pause(const json::value& v, const std::string& field, wharf::v1::CanaryStep& step) {
  if (v.is_int64() && v.as_int64() >= 0) {
    step.set_pause_s(static_cast<uint32_t>(v.as_int64()));
    return;
  }
  if (v.is_uint64()) {
    step.set_pause_s(static_cast<uint32_t>(v.as_uint64()));
    return;
  }
  if (!v.is_string()) invalid(field, "\"" + field + "\" must be \"manual\", a duration or seconds");
  std::string text(v.as_string());
  if (text == "manual") {
    step.set_manual(true);
    return;
  }
  char* end = nullptr;
  unsigned long n = std::strtoul(text.c_str(), &end, 10);
  std::string unit = end ? std::string(end) : "";
  unsigned long scale = unit == "s" || unit.empty() ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (end == text.c_str() || scale == 0 || n * scale > 7 * 24 * 3600) {
    invalid(field, "\"" + field +
                       "\" is not \"manual\" or a duration like \"90s\", \"5m\", \"1h\" "
                       "(at most a week): \"" +
                       text + "\"");
  }
  step.set_pause_s(static_cast<uint32_t>(n * scale));
}

}  // namespace

wharf::v1::CanaryStrategy parse_canary_strategy(const JsonBody& parent, std::string_view field) {
  const std::string name(field);
  auto body = parent.object(field, {"steps", "match", "analysis", "mode"}, true);
  wharf::v1::CanaryStrategy s;
  auto steps = body.object_list("steps", {"weight", "pause"});
  if (steps.empty()) invalid(name + ".steps", "a canary needs at least one step");
  uint32_t last = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string at = name + ".steps[" + std::to_string(i) + "]";
    auto* step = s.add_steps();
    uint64_t weight = steps[i].optional_uint("weight").value_or(0);
    if (weight > 100) invalid(at + ".weight", "a weight is a percentage (0..100)");
    if (weight < last) invalid(at + ".weight", "weights must not decrease from step to step");
    last = static_cast<uint32_t>(weight);
    step->set_weight(last);
    if (const auto* pause = steps[i].raw().if_contains("pause"); pause && !pause->is_null()) {
      parse_pause(*pause, at + ".pause", *step);
    }
  }
  if (body.has("match")) {
    auto m = body.object("match", {"header", "header_value", "cookie", "cookie_value"});
    s.mutable_match()->set_header(m.optional_string("header").value_or(""));
    s.mutable_match()->set_header_value(m.optional_string("header_value").value_or(""));
    s.mutable_match()->set_cookie(m.optional_string("cookie").value_or(""));
    s.mutable_match()->set_cookie_value(m.optional_string("cookie_value").value_or(""));
  }
  if (body.has("analysis")) {
    auto a = body.object("analysis", {"max_error_rate", "min_requests", "interval_s",
                                      "check_health", "prometheus_query_url"});
    double rate = a.optional_number("max_error_rate").value_or(0.0);
    if (rate < 0.0 || rate > 1.0) {
      invalid(name + ".analysis.max_error_rate", "max_error_rate is a fraction (0..1)");
    }
    auto* out = s.mutable_analysis();
    out->set_max_error_rate(rate);
    out->set_min_requests(static_cast<uint32_t>(
        std::min<uint64_t>(a.optional_uint("min_requests").value_or(0), UINT32_MAX)));
    out->set_interval_s(
        static_cast<uint32_t>(std::min<uint64_t>(a.optional_uint("interval_s").value_or(0), 3600)));
    out->set_check_health(a.optional_bool("check_health").value_or(false));
    out->set_prometheus_query_url(a.optional_string("prometheus_query_url").value_or(""));
  }
  if (auto mode = body.enum_value("mode", {"replicas", "ingress-nginx", "dubbo"}, false)) s.set_mode(*mode);
  return s;
}

}  // namespace wharf::api
