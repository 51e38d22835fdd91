#include "adapters/router/canary_analysis.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cstdio>
#include <vector>

#include "adapters/http/http_client.h"
#include "adapters/local/http_probe.h"

namespace wharf::router {
namespace json = boost::json;

namespace {

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate * 100.0);
  return buf;
}

std::string key_of(const engine::CanaryTraffic& t) {
  return t.project_id + "/" + t.environment;
}

std::chrono::seconds interval_of(const engine::CanaryTraffic& t) {
  const auto s = t.strategy.analysis().interval_s();
  return std::chrono::seconds(s == 0 ? 5 : s);
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

Expected<double, std::string> query_prometheus(const std::string& query_url) {
  http_client::Request request;
  request.url = query_url;
  request.timeout = std::chrono::seconds(5);
  auto r = http_client::send(request);
  if (!r) return unexpected("Prometheus query failed: " + r.error());
  if (r->status != 200) return unexpected("Prometheus query failed: " + http_client::describe(*r));
  auto rate = prometheus_value(r->body);
  if (!rate) return unexpected("Prometheus answer: " + rate.error());
  return *rate;
}

Observation probe_sources(const engine::CanaryTraffic& traffic, const std::string& health_url) {
  Observation seen;
  const auto& a = traffic.strategy.analysis();
  if (a.check_health() && !health_url.empty()) {
    auto r = local::http_get_url(health_url + traffic.spec.health_path(),
                                 std::chrono::milliseconds(1000));
    seen.healthy = r && r->status >= 200 && r->status < 400;
  }
  if (!a.prometheus_query_url().empty()) {
    if (auto rate = query_prometheus(a.prometheus_query_url())) {
      seen.external_rate = *rate;
    } else {
      spdlog::warn("canary {}: {}", traffic.canary_id, rate.error());
    }
  }
  return seen;
}

CanaryAnalyser::CanaryAnalyser(Observe observe, std::chrono::milliseconds tick)
    : observe_(std::move(observe)), tick_(tick) {
  thread_ = std::thread([this] { loop(); });
}

CanaryAnalyser::~CanaryAnalyser() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void CanaryAnalyser::track(const engine::CanaryTraffic& traffic, Abort abort) {
  {
    std::lock_guard lock(mutex_);
    Env& env = envs_[key_of(traffic)];
    env.traffic = traffic;
    env.abort = std::move(abort);
    env.analysing = traffic.phase == engine::CanaryTraffic::Phase::kStep;
    env.next_probe = std::chrono::steady_clock::now() + interval_of(traffic);
  }
  wake_.notify_all();
}

void CanaryAnalyser::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, tick_);
    auto now = std::chrono::steady_clock::now();
    // Probe outside the lock (health and Prometheus are network calls).
    std::vector<Env> due;
    for (auto& [key, env] : envs_) {
      if (!env.analysing || now < env.next_probe) continue;
      env.next_probe = now + interval_of(env.traffic);
      due.push_back(env);
    }
    for (const Env& probe : due) {
      if (stopping_) break;
      lock.unlock();
      Observation seen = observe_(probe.traffic);
      auto verdict = judge(probe.traffic.strategy.analysis(), seen);
      lock.lock();
      Env& still = envs_[key_of(probe.traffic)];
      // The canary may have moved on while we probed: judge only the same step.
      if (!verdict || !still.analysing || still.traffic.canary_id != probe.traffic.canary_id ||
          still.traffic.step != probe.traffic.step) {
        continue;
      }
      still.analysing = false;  // one verdict per step; the abort follows through the log
      spdlog::warn("canary {}: aborting: {}", probe.traffic.canary_id, verdict->reason);
      lock.unlock();
      if (probe.abort) probe.abort(*verdict);
      lock.lock();
    }
  }
}

}  // namespace wharf::router
