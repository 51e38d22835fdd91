#pragma once
// KubernetesDeployTarget: puts a DeploySpec in place by patching a Deployment
// (strategic merge: the named container's image and env, the pod template's
// deploy annotation) and waiting for the rollout the way `kubectl rollout
// status` does. The cluster is the registered target the environment names
// (target_ref, docs/targets.md): its API URL, CA, TLS setting, default
// namespace and credential come from the target registry, nowhere else. The
// environment's settings say only what to deploy there:
//
//   deployment     Deployment name (required)
//   namespace      default: the target's namespace, else "default"
//   container      default: the deployment name
//   image          image reference; "{version}" and "{digest}" are replaced
//                  (default: the spec's artifact_uri)
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
#include "adapters/targets/probe.h"
#include "adapters/targets/registry.h"
#include "engine/ports.h"
#include "events/expected.h"

namespace wharf::kubernetes {

struct ClusterTarget {
  std::string api_url, ns = "default", deployment, container, image, token, ca_file, url;
  bool insecure = false;
  http_client::ClientCertificate client_cert;  // a client_cert target's, presented over TLS
  std::chrono::seconds rollout_timeout{600};
};

// The connection part of a ClusterTarget (API URL, token or client
// certificate, CA, TLS) from a
// resolved Kubernetes target.
ClusterTarget cluster_of(targets::ResolvedTarget cluster);
// The reachability probe of a Kubernetes target: GET /version with its
// credential (gitVersion is the server version).
targets::ProbeResult probe_cluster(const targets::ResolvedTarget& cluster);

// The cluster target of one deploy: the registered target spec.target_ref
// names, resolved through `targets`, and the spec's settings; fails naming
// what is missing.
Expected<ClusterTarget, std::string> cluster_target_of(const wharf::v1::DeploySpec& spec,
                                                       const targets::TargetResolver& targets);

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
// http_client::describe(response), and for a 401 to a client certificate
// which certificate the cluster did not accept.
std::string describe(const ClusterTarget& t, const http_client::Response& response);
// "/apis/apps/v1/namespaces/<ns>/deployments/<name>"
std::string deployment_path(const std::string& ns, const std::string& name);

class KubernetesDeployTarget final : public engine::DeployTarget {
 public:
  // `poll`: the longest wait between two looks at the rollout (a watch
  // usually brings each change sooner). `before_patch` (tests only) runs
  // between wharf's read of the Deployment and its PATCH, with its name.
  explicit KubernetesDeployTarget(const targets::TargetResolver& targets,
                                  std::chrono::milliseconds poll = std::chrono::seconds(1),
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

  const targets::TargetResolver& targets_;
  std::chrono::milliseconds poll_;
  std::function<void(const std::string&)> before_patch_;
  remote_deploy::DeployRunner runner_;  // last: joins the threads that use the above
};

}  // namespace wharf::kubernetes
