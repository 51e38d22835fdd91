#include "adapters/kubernetes/deploy_target.h"

#include <spdlog/spdlog.h>

#include "adapters/http/http_client.h"
#include "adapters/kubernetes/deployment_watch.h"
#include "adapters/kubernetes/rollout.h"

namespace wharf::kubernetes {
namespace json = boost::json;

namespace {

// PATCHes answered 409 before the deploy fails. A Deployment mid-rollout gets a
// new resourceVersion with each status write of its controller, so a
// conditional PATCH can lose a few races in a row (seen: 4) before it lands.
constexpr int kConflictTries = 10;

class Cluster {
 public:
  explicit Cluster(const ClusterTarget& t) : t_(t) {}

  Expected<json::object, std::string> call(const std::string& method,
                                           const std::string& content_type,
                                           const std::string& body) const {
    const std::string path = deployment_path(t_.ns, t_.deployment);
    auto response = call_api(t_, method, path, content_type, body);
    if (!response) return unexpected(response.error());
    if (response->status != 200 && response->status != 201) {
      return unexpected(method + " deployment " + t_.ns + "/" + t_.deployment + ": " +
                        describe(t_, *response));
    }
    std::error_code ec;
    auto parsed = json::parse(response->body, ec);
    if (ec || !parsed.is_object()) return unexpected("unreadable Deployment from " + path);
    return std::move(parsed.as_object());
  }

 private:
  const ClusterTarget& t_;
};

}  // namespace

std::string deployment_path(const std::string& ns, const std::string& name) {
  return "/apis/apps/v1/namespaces/" + ns + "/deployments/" + name;
}

http_client::Request cluster_request(const ClusterTarget& t, const std::string& method,
                                     const std::string& path) {
  std::string base = t.api_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  http_client::Request req;
  req.method = method;
  req.url = base + path;
  req.headers = {{"Accept", "application/json"}};
  if (!t.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + t.token);
  req.ca_file = t.ca_file;
  req.verify_tls = !t.insecure;
  req.client_cert = t.client_cert;
  return req;
}

std::string describe(const ClusterTarget& t, const http_client::Response& response) {
  std::string text = http_client::describe(response);
  if (response.status == 401 && !t.client_cert.empty()) {
    text += " (the cluster did not accept the client certificate " + t.client_cert.subject +
            ": is it signed by the CA of the API server's --client-ca-file?)";
  }
  return text;
}

Expected<http_client::Response, std::string> call_api(const ClusterTarget& t,
                                                      const std::string& method,
                                                      const std::string& path,
                                                      const std::string& content_type,
                                                      const std::string& body) {
  http_client::Request req = cluster_request(t, method, path);
  if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
  req.body = body;
  return http_client::send(req);
}

ClusterTarget cluster_of(targets::ResolvedTarget cluster) {
  ClusterTarget t;
  t.api_url = cluster.spec.url();
  t.token = std::move(cluster.token);
  t.client_cert = std::move(cluster.client_cert);
  t.ca_file = cluster.spec.ca_file();
  t.insecure = cluster.spec.insecure_skip_tls_verify();
  if (!cluster.spec.default_namespace().empty()) t.ns = cluster.spec.default_namespace();
  return t;
}

targets::ProbeResult probe_cluster(const targets::ResolvedTarget& cluster) {
  auto response = call_api(cluster_of(cluster), "GET", "/version");
  if (!response) return {false, "", response.error()};
  if (response->status != 200)
    return {false, "", "GET /version: " + describe(cluster_of(cluster), *response)};
  std::error_code ec;
  auto parsed = json::parse(response->body, ec);
  const json::value* version =
      !ec && parsed.is_object() ? parsed.as_object().if_contains("gitVersion") : nullptr;
  return {true, version && version->is_string() ? std::string(version->as_string()) : "", ""};
}

Expected<ClusterTarget, std::string> cluster_target_of(const wharf::v1::DeploySpec& spec,
                                                       const targets::TargetResolver& targets) {
  using remote_deploy::setting;
  auto cluster =
      targets::resolve_named(targets, spec.target_ref(), wharf::v1::TARGET_KIND_KUBERNETES);
  if (!cluster) return unexpected(cluster.error());
  ClusterTarget t = cluster_of(std::move(*cluster));
  t.deployment = setting(spec, "deployment");
  if (t.deployment.empty())
    return unexpected(std::string("kubernetes target needs settings.deployment"));
  t.ns = setting(spec, "namespace", t.ns);
  t.container = setting(spec, "container", t.deployment);
  t.image = remote_deploy::image_of(spec);
  if (t.image.empty())
    return unexpected(std::string("kubernetes target needs settings.image or an artifact_uri"));
  t.url = setting(spec, "url");
  t.rollout_timeout = remote_deploy::seconds_setting(spec, "rollout_timeout_s", t.rollout_timeout);
  return t;
}

KubernetesDeployTarget::KubernetesDeployTarget(const targets::TargetResolver& targets,
                                               std::chrono::milliseconds poll,
                                               std::function<void(const std::string&)> before_patch)
    : targets_(targets),
      poll_(poll),
      before_patch_(std::move(before_patch)),
      runner_("kubernetes", [this](remote_deploy::Deploy& d) { run(d); }) {}

void KubernetesDeployTarget::run(remote_deploy::Deploy& deploy) {
  const engine::DeployJob& job = deploy.job();
  const std::string& key = deploy.key();
  auto target = cluster_target_of(job.spec, targets_);
  if (!target) return deploy.fail(target.error());
  Cluster cluster(*target);
  const std::string where = target->ns + "/" + target->deployment;
  const std::string external_id = "k8s:" + where;

  // The PATCH is conditional on the version read (metadata.resourceVersion):
  // when someone else changed the Deployment in between (a person, another
  // tool, or its controller writing status), the API server answers 409
  // Conflict and wharf reads it again and decides again, after a short pause.
  for (int attempt = 1;; ++attempt) {
    auto current = cluster.call("GET", "", "");
    if (!current) return deploy.fail(current.error());
    if (deploy_key_of(*current) == key) {
      deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                      "already patched; watching the rollout of " + where);
      break;
    }
    PatchInput patch{target->container,
                     target->image,
                     key,
                     job.spec.version(),
                     job.spec.replicas(),
                     {job.spec.config().begin(), job.spec.config().end()}};
    patch.resource_version = resource_version_of(*current);
    if (before_patch_) before_patch_(target->deployment);
    auto patched = call_api(*target, "PATCH", deployment_path(target->ns, target->deployment),
                            "application/strategic-merge-patch+json", strategic_merge_patch(patch));
    if (!patched) return deploy.fail(patched.error());
    if (patched->status == 409 && attempt < kConflictTries) {
      deploy.progress(engine::StepProgress::Kind::kProgress, external_id,
                      "deployment " + where + " changed while wharf patched it (" +
                          describe(*target, *patched) + "); reading it again");
      std::this_thread::sleep_for(std::chrono::milliseconds(20) * attempt);
      continue;
    }
    if (patched->status != 200) {
      return deploy.fail("PATCH deployment " + where + ": " + describe(*target, *patched));
    }
    spdlog::info("kubernetes: deploy {} patched {} to {}", key, where, target->image);
    deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                    "patched " + where + " to " + target->image);
    break;
  }

  DeploymentFeed feed(*target, target->deployment, [&] { return cluster.call("GET", "", ""); });
  remote_deploy::Watch how{external_id,
                           "rollout of " + where,
                           poll_,
                           target->rollout_timeout,
                           target->url,
                           " (the cluster keeps the new spec)",
                           [&](std::chrono::milliseconds d) { feed.wait(d); }};
  remote_deploy::watch(deploy, how, [&]() -> Expected<remote_deploy::Verdict, std::string> {
    auto now = feed.current();
    if (!now) return unexpected(now.error());
    if (deploy_key_of(*now) != key) {
      return unexpected("another deploy replaced " + where + " during the rollout");
    }
    return rollout_of(*now);
  });
}

}  // namespace wharf::kubernetes
