#include "adapters/swarm/deploy_target.h"

#include <spdlog/spdlog.h>

#include "adapters/http/http_client.h"
#include "adapters/swarm/service_update.h"

namespace wharf::swarm {
namespace json = boost::json;

namespace {

uint64_t version_of(const json::object& service) {
  auto* v = service.if_contains("Version");
  if (!v || !v->is_object()) return 0;
  auto* index = v->as_object().if_contains("Index");
  return index && index->is_int64()    ? static_cast<uint64_t>(index->as_int64())
         : index && index->is_uint64() ? index->as_uint64()
                                       : 0;
}

}  // namespace

Portainer::Portainer(const PortainerTarget& t) : t_(t) {
  base_ = t.portainer_url;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

std::string Portainer::docker_path(const std::string& rest) const {
  return "/api/endpoints/" + t_.endpoint_id + "/docker" + rest;
}

std::string Portainer::service_path(const std::string& service) const {
  return docker_path("/services/" + service);
}

Expected<http_client::Response, std::string> Portainer::call(const std::string& method,
                                                             const std::string& path,
                                                             const std::string& body) {
  for (int tries = 0;; ++tries) {
    auto auth = auth_header();
    if (!auth) return unexpected(auth.error());
    http_client::Request req = request(method, base_ + path, body);
    req.headers.emplace_back("Accept", "application/json");
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.headers.push_back(std::move(*auth));
    auto response = http_client::send(req);
    if (!response) return response;
    if (response->status == 401 && t_.api_key.empty() && tries == 0) {
      jwt_.clear();  // the session expired: log in again once
      continue;
    }
    return response;
  }
}

http_client::Request Portainer::request(const std::string& method, const std::string& url,
                                        const std::string& body) const {
  http_client::Request req;
  req.method = method;
  req.url = url;
  req.body = body;
  req.ca_file = t_.ca_file;
  req.verify_tls = !t_.insecure;
  return req;
}

Expected<void, std::string> Portainer::login() {
  http_client::Request req =
      request("POST", base_ + "/api/auth",
              json::serialize(json::object{{"username", t_.username}, {"password", t_.password}}));
  req.headers = {{"Content-Type", "application/json"}};
  auto response = http_client::send(req);
  if (!response) return unexpected(response.error());
  if (response->status != 200)
    return unexpected("Portainer login: " + http_client::describe(*response));
  std::error_code ec;
  auto parsed = json::parse(response->body, ec);
  const json::value* jwt =
      !ec && parsed.is_object() ? parsed.as_object().if_contains("jwt") : nullptr;
  if (jwt == nullptr || !jwt->is_string())
    return unexpected(std::string("Portainer login: no jwt in the answer"));
  jwt_ = std::string(jwt->as_string());
  return {};
}

Expected<std::pair<std::string, std::string>, std::string> Portainer::auth_header() {
  if (!t_.api_key.empty()) return std::make_pair(std::string("X-API-Key"), t_.api_key);
  if (jwt_.empty()) {
    if (auto logged_in = login(); !logged_in) return unexpected(logged_in.error());
  }
  return std::make_pair(std::string("Authorization"), "Bearer " + jwt_);
}

Expected<json::object, std::string> inspect_service(Portainer& portainer,
                                                    const std::string& service,
                                                    const std::string& where) {
  auto response = portainer.call("GET", portainer.service_path(service));
  if (!response) return unexpected(response.error());
  if (response->status != 200)
    return unexpected("inspect service " + where + ": " + http_client::describe(*response));
  std::error_code ec;
  auto parsed = json::parse(response->body, ec);
  if (ec || !parsed.is_object()) return unexpected("unreadable service " + where);
  return std::move(parsed.as_object());
}

Expected<void, std::string> update_service(
    Portainer& portainer, const std::string& service, const std::string& where,
    json::object inspected, const std::function<json::object(const json::object&)>& spec_of) {
  // The update replaces the spec at a version: a concurrent change makes it
  // "out of sequence", so inspect again and resend.
  for (int attempt = 0;; ++attempt) {
    const std::string body = json::serialize(spec_of(inspected));
    auto response = portainer.call("POST",
                                   portainer.service_path(service) +
                                       "/update?version=" + std::to_string(version_of(inspected)),
                                   body);
    if (!response) return unexpected(response.error());
    if (response->status == 200) return {};
    const bool stale =
        response->status == 500 && response->body.find("out of sequence") != std::string::npos;
    if (!stale || attempt >= 4) {
      return unexpected("update service " + where + ": " + http_client::describe(*response));
    }
    auto again = inspect_service(portainer, service, where);
    if (!again) return unexpected(again.error());
    inspected = std::move(*again);
  }
}

PortainerTarget portainer_of(targets::ResolvedTarget portainer) {
  PortainerTarget t;
  t.portainer_url = portainer.spec.url();
  t.endpoint_id = portainer.spec.endpoint_id();
  t.api_key = std::move(portainer.api_key);
  t.username = std::move(portainer.user);
  t.password = std::move(portainer.password);
  t.ca_file = portainer.spec.ca_file();
  t.insecure = portainer.spec.insecure_skip_tls_verify();
  return t;
}

targets::ProbeResult probe_portainer(const targets::ResolvedTarget& target) {
  const PortainerTarget t = portainer_of(target);
  Portainer portainer(t);
  auto response = portainer.call("GET", "/api/status");
  if (!response) return {false, "", response.error()};
  if (response->status != 200) {
    return {false, "", "GET /api/status: " + http_client::describe(*response)};
  }
  std::error_code ec;
  auto parsed = json::parse(response->body, ec);
  const json::value* version =
      !ec && parsed.is_object() ? parsed.as_object().if_contains("Version") : nullptr;
  return {true, version && version->is_string() ? std::string(version->as_string()) : "", ""};
}

Expected<PortainerTarget, std::string> portainer_target_of(const wharf::v1::DeploySpec& spec,
                                                           const targets::TargetResolver& targets) {
  using remote_deploy::setting;
  auto portainer =
      targets::resolve_named(targets, spec.target_ref(), wharf::v1::TARGET_KIND_PORTAINER);
  if (!portainer) return unexpected(portainer.error());
  PortainerTarget t = portainer_of(std::move(*portainer));
  t.service = setting(spec, "service");
  if (t.service.empty()) return unexpected(std::string("swarm target needs settings.service"));
  t.image = remote_deploy::image_of(spec);
  if (t.image.empty())
    return unexpected(std::string("swarm target needs settings.image or an artifact_uri"));
  t.url = setting(spec, "url");
  t.update_timeout = remote_deploy::seconds_setting(spec, "update_timeout_s", t.update_timeout);
  return t;
}

SwarmDeployTarget::SwarmDeployTarget(const targets::TargetResolver& targets,
                                     std::chrono::milliseconds poll)
    : targets_(targets),
      poll_(poll),
      runner_("swarm", [this](remote_deploy::Deploy& d) { run(d); }) {}

void SwarmDeployTarget::run(remote_deploy::Deploy& deploy) {
  const engine::DeployJob& job = deploy.job();
  const std::string& key = deploy.key();
  auto target = portainer_target_of(job.spec, targets_);
  if (!target) return deploy.fail(target.error());
  Portainer portainer(*target);
  const std::string where = target->service + " (Portainer endpoint " + target->endpoint_id + ")";
  const std::string external_id = "swarm:" + target->service;

  auto service = inspect_service(portainer, target->service, where);
  if (!service) return deploy.fail(service.error());
  if (deploy_key_of(*service) == key) {
    deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                    "already updated; watching " + where);
  } else {
    const SpecChange change{target->image,
                            key,
                            job.spec.replicas(),
                            {job.spec.config().begin(), job.spec.config().end()}};
    auto updated = update_service(portainer, target->service, where, std::move(*service),
                                  [&](const json::object& s) { return updated_spec(s, change); });
    if (!updated) return deploy.fail(updated.error());
    spdlog::info("swarm: deploy {} updated {} to {}", key, where, target->image);
    deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                    "updated " + where + " to " + target->image);
  }

  remote_deploy::Watch how{external_id, "update of " + where,
                           poll_,       target->update_timeout,
                           target->url, " (Swarm goes on with the update)"};
  remote_deploy::watch(deploy, how, [&]() -> Expected<remote_deploy::Verdict, std::string> {
    auto now = inspect_service(portainer, target->service, where);
    if (!now) return unexpected(now.error());
    if (deploy_key_of(*now) != key) {
      return unexpected("another deploy replaced " + where + " during the update");
    }
    return verdict_of(*now);
  });
}

}  // namespace wharf::swarm
