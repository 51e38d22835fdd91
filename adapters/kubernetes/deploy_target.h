#pragma once
// KubernetesDeployTarget: puts a DeploySpec in place by patching a Deployment
// (strategic merge: the named container's image and env, the pod template's
// deploy annotation) and waiting for the rollout the way `kubectl rollout
// status` does. The environment's target settings name the cluster:
//
//   api_url        https://host:6443 (required)
//   deployment     Deployment name (required)
//   namespace      default "default"
//   container      default: the deployment name
//   image          image reference; "{version}" and "{digest}" are replaced
//                  (default: the spec's artifact_uri)
//   token          bearer token, or token_file (default: the in-pod service
//                  account token file when it exists)
//   ca_file        CA bundle for https; insecure_skip_tls_verify=true for test clusters
//   url            what the environment serves at (reported as the deploy URL)
//   rollout_timeout_s  default 600 (Kubernetes' own progress deadline default)
//
// Idempotent by deploy id + attempt: the Deployment carries the key in the
// annotation wharf.dev/deploy, so a repeated start (after a wharf or worker
// restart) only watches the rollout it already asked for. A rollback is a
// deploy of the recorded spec, so it patches the old image back.
#include <chrono>
#include <functional>
#include <string>

#include "adapters/http/http_client.h"
#include "adapters/remote_deploy/remote_deploy.h"
#include "engine/ports.h"
#include "events/expected.h"

namespace wharf::kubernetes {

struct ClusterTarget {
  std::string api_url, ns = "default", deployment, container, image, token, ca_file, url;
  bool insecure = false;
  std::chrono::seconds rollout_timeout{600};
};

// The cluster target of one deploy, from its spec; fails naming what is missing.
Expected<ClusterTarget, std::string> cluster_target_of(const wharf::v1::DeploySpec& spec);

// A request to the API server at `path` (below api_url) with the target's
// token, CA and TLS settings (call_api sends one; streams and exec upgrade it).
http_client::Request cluster_request(const ClusterTarget& t, const std::string& method,
                                     const std::string& path);
// One call to the cluster's API at `path` (from the API root, e.g.
// deployment_path(ns, name)) with the target's token and TLS settings. Fails
// only when no answer came; any status is a Response.
Expected<http_client::Response, std::string> call_api(const ClusterTarget& t,
                                                      const std::string& method,
                                                      const std::string& path,
                                                      const std::string& content_type = {},
                                                      const std::string& body = {});
// "/apis/apps/v1/namespaces/<ns>/deployments/<name>"
std::string deployment_path(const std::string& ns, const std::string& name);

class KubernetesDeployTarget final : public engine::DeployTarget {
 public:
  // `poll`: the longest wait between two looks at the rollout (a watch
  // usually brings each change sooner). `before_patch` (tests only) runs
  // between wharf's read of the Deployment and its PATCH, with its name.
  explicit KubernetesDeployTarget(std::chrono::milliseconds poll = std::chrono::seconds(1),
                                  std::function<void(const std::string&)> before_patch = {});

  void start(const engine::DeployJob& job,
             engine::Callbacks<engine::DeployOutcome> callbacks) override {
    runner_.start(job, std::move(callbacks));
  }
  // Stops watching and reports the deploy as failed; the cluster keeps the
  // patched spec (Kubernetes has no "undo this patch"): roll back to undo.
  void cancel(const std::string& deploy_id, uint32_t attempt) override {
    runner_.cancel(deploy_id, attempt);
  }

 private:
  void run(remote_deploy::Deploy& deploy);

  std::chrono::milliseconds poll_;
  std::function<void(const std::string&)> before_patch_;
  remote_deploy::DeployRunner runner_;  // last: joins the threads that use the above
};

}  // namespace wharf::kubernetes
