#include "adapters/kubernetes/deploy_target.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "adapters/http/http_client.h"
#include "adapters/kubernetes/rollout.h"

namespace wharf::kubernetes {
namespace json = boost::json;

namespace {

constexpr const char* kServiceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token";

std::string setting(const wharf::v1::DeploySpec& spec, const char* key, std::string fallback = {}) {
  auto it = spec.target_settings().find(key);
  return it != spec.target_settings().end() && !it->second.empty() ? it->second : fallback;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  return token;
}

class Cluster {
 public:
  explicit Cluster(const ClusterTarget& t) : t_(t) {}

  std::string deployment_url() const {
    std::string base = t_.api_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/apis/apps/v1/namespaces/" + t_.ns + "/deployments/" + t_.deployment;
  }

  Expected<json::object, std::string> call(const std::string& method,
                                           const std::string& content_type,
                                           const std::string& body) const {
    http_client::Request req;
    req.method = method;
    req.url = deployment_url();
    req.headers = {{"Accept", "application/json"}};
    if (!t_.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + t_.token);
    if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
    req.body = body;
    req.ca_file = t_.ca_file;
    req.verify_tls = !t_.insecure;
    auto response = http_client::send(req);
    if (!response) return unexpected(response.error());
    if (response->status != 200 && response->status != 201) {
      return unexpected(method + " deployment " + t_.ns + "/" + t_.deployment + ": " +
                        http_client::describe(*response));
    }
    std::error_code ec;
    auto parsed = json::parse(response->body, ec);
    if (ec || !parsed.is_object()) return unexpected("unreadable Deployment from " + req.url);
    return std::move(parsed.as_object());
  }

 private:
  const ClusterTarget& t_;
};

}  // namespace

Expected<ClusterTarget, std::string> cluster_target_of(const wharf::v1::DeploySpec& spec) {
  ClusterTarget t;
  t.api_url = setting(spec, "api_url");
  t.deployment = setting(spec, "deployment");
  if (t.api_url.empty()) return unexpected(std::string("kubernetes target needs settings.api_url"));
  if (t.deployment.empty())
    return unexpected(std::string("kubernetes target needs settings.deployment"));
  t.ns = setting(spec, "namespace", "default");
  t.container = setting(spec, "container", t.deployment);
  t.image = setting(spec, "image", spec.artifact_uri());
  t.image = replace_all(replace_all(t.image, "{version}", spec.version()), "{digest}",
                        spec.artifact_digest());
  if (t.image.empty())
    return unexpected(std::string("kubernetes target needs settings.image or an artifact_uri"));
  t.token = setting(spec, "token");
  const std::string token_file =
      setting(spec, "token_file",
              std::filesystem::exists(kServiceAccountToken) ? kServiceAccountToken : "");
  if (t.token.empty() && !token_file.empty()) {
    t.token = read_token(token_file);
    if (t.token.empty()) return unexpected("cannot read a token from " + token_file);
  }
  t.ca_file = setting(spec, "ca_file");
  t.insecure = setting(spec, "insecure_skip_tls_verify") == "true";
  t.url = setting(spec, "url");
  const std::string timeout = setting(spec, "rollout_timeout_s");
  if (!timeout.empty()) t.rollout_timeout = std::chrono::seconds(std::stoll(timeout));
  return t;
}

KubernetesDeployTarget::KubernetesDeployTarget(std::chrono::milliseconds poll) : poll_(poll) {}

KubernetesDeployTarget::~KubernetesDeployTarget() {
  tasks_.stop_and_join();
}

void KubernetesDeployTarget::start(const engine::DeployJob& job,
                                   engine::Callbacks<engine::DeployOutcome> callbacks) {
  auto active = jobs_.add(local::job_key(job.deploy_id, job.attempt), std::move(callbacks));
  if (!active) return;  // joined the same key in progress
  tasks_.run([this, job, active] { run(job, active); });
}

void KubernetesDeployTarget::cancel(const std::string& deploy_id, uint32_t attempt) {
  jobs_.cancel(local::job_key(deploy_id, attempt));
}

void KubernetesDeployTarget::run(const engine::DeployJob& job, std::shared_ptr<Jobs::Job> active) {
  const std::string key = local::job_key(job.deploy_id, job.attempt);
  auto fail = [&](const std::string& reason) {
    spdlog::warn("kubernetes: deploy {} failed: {}", key, reason);
    jobs_.finish(key, {false, "", reason});
  };
  auto target = cluster_target_of(job.spec);
  if (!target) return fail(target.error());
  Cluster cluster(*target);
  const std::string where = target->ns + "/" + target->deployment;

  auto current = cluster.call("GET", "", "");
  if (!current) return fail(current.error());
  if (deploy_key_of(*current) != key) {
    PatchInput patch{target->container,
                     target->image,
                     key,
                     job.spec.version(),
                     job.spec.replicas(),
                     {job.spec.config().begin(), job.spec.config().end()}};
    auto patched = cluster.call("PATCH", "application/strategic-merge-patch+json",
                                strategic_merge_patch(patch));
    if (!patched) return fail(patched.error());
    spdlog::info("kubernetes: deploy {} patched {} to {}", key, where, target->image);
    jobs_.progress(key, {engine::StepProgress::Kind::kStarted, "k8s:" + where, "",
                         "patched " + where + " to " + target->image, 0});
  } else {
    jobs_.progress(key, {engine::StepProgress::Kind::kStarted, "k8s:" + where, "",
                         "already patched; watching the rollout of " + where, 0});
  }

  const auto deadline = std::chrono::steady_clock::now() + target->rollout_timeout;
  std::string last_message;
  while (!tasks_.stopping()) {
    if (active->cancel.load())
      return fail("cancelled while rolling out (the cluster keeps the new spec)");
    auto now = cluster.call("GET", "", "");
    if (!now) return fail(now.error());
    if (deploy_key_of(*now) != key)
      return fail("another deploy replaced " + where + " during the rollout");
    const Rollout rollout = rollout_of(*now);
    if (rollout.state == Rollout::State::kDone) {
      jobs_.finish(key, {true, target->url, ""});
      return;
    }
    if (rollout.state == Rollout::State::kFailed) return fail(rollout.message);
    if (rollout.message != last_message) {
      jobs_.progress(
          key, {engine::StepProgress::Kind::kProgress, "k8s:" + where, "", rollout.message, 0});
      last_message = rollout.message;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail("rollout of " + where + " not done after " +
                  std::to_string(target->rollout_timeout.count()) + " s: " + rollout.message);
    }
    std::this_thread::sleep_for(poll_);
  }
}

}  // namespace wharf::kubernetes
