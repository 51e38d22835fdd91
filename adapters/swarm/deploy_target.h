#pragma once
// SwarmDeployTarget: puts a DeploySpec in place by updating a Docker Swarm
// service through Portainer's Docker proxy: inspect the service, send back its
// full Spec with the new image (and env, replicas, a deploy label, a bumped
// ForceUpdate) at the inspected version — re-inspecting on "update out of
// sequence" — then wait for UpdateStatus "completed"; "paused" and rollback_*
// fail the deploy with the daemon's message. Portainer is the registered
// target the environment names (target_ref, docs/targets.md): its URL,
// endpoint id, CA, TLS setting and credential (API key as X-API-Key, or
// username + password: a JWT from /api/auth, renewed once on 401) come from
// the target registry, nowhere else. The environment's settings:
//
//   service        service id or name (required)
//   image          image reference; "{version}" and "{digest}" are replaced
//                  (default: the spec's artifact_uri)
//   url, update_timeout_s (default 300)
//
// Idempotent by deploy id + attempt: the service Spec carries the key in the
// label wharf.deploy, so a repeated start only watches the update it sent.
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "adapters/http/http_client.h"
#include "adapters/remote_deploy/remote_deploy.h"
#include "adapters/targets/probe.h"
#include "adapters/targets/registry.h"
#include "engine/ports.h"
#include "events/expected.h"

namespace wharf::swarm {

struct PortainerTarget {
  std::string portainer_url, endpoint_id = "1", service, api_key, username, password, image,
                             ca_file, url;
  bool insecure = false;
  std::chrono::seconds update_timeout{300};
};

// The connection part of a PortainerTarget (URL, endpoint, credential, TLS)
// from a resolved Portainer target.
PortainerTarget portainer_of(targets::ResolvedTarget portainer);
// The reachability probe of a Portainer target: GET /api/status with its
// credential (a login first for username + password).
targets::ProbeResult probe_portainer(const targets::ResolvedTarget& portainer);

// The Portainer target of one deploy: the registered target spec.target_ref
// names, resolved through `targets`, and the spec's settings.
Expected<PortainerTarget, std::string> portainer_target_of(const wharf::v1::DeploySpec& spec,
                                                           const targets::TargetResolver& targets);

// Portainer's API for one target: the API key, or one login per object
// (renewed once when the JWT expires).
class Portainer {
 public:
  explicit Portainer(const PortainerTarget& t);

  // "/api/endpoints/<endpoint_id>/docker" + rest (the Docker proxy).
  std::string docker_path(const std::string& rest) const;
  std::string service_path() const { return service_path(t_.service); }
  std::string service_path(const std::string& service) const;
  // Fails only when no answer came; any status is a Response.
  Expected<http_client::Response, std::string> call(const std::string& method,
                                                    const std::string& path,
                                                    const std::string& body = {});
  // The header that authenticates a request: X-API-Key with the access
  // token, else Authorization with the JWT (logging in when there is none).
  Expected<std::pair<std::string, std::string>, std::string> auth_header();

 private:
  http_client::Request request(const std::string& method, const std::string& url,
                               const std::string& body) const;
  Expected<void, std::string> login();

  const PortainerTarget& t_;
  std::string base_;
  std::string jwt_;
};

// The inspected service (GET services/{service}); fails naming `where`
// on any answer but 200.
Expected<boost::json::object, std::string> inspect_service(Portainer& portainer,
                                                           const std::string& service,
                                                           const std::string& where);
// Replaces the service's Spec with spec_of(inspected) at the inspected
// version; on "update out of sequence" inspects again and resends (5 tries).
Expected<void, std::string> update_service(
    Portainer& portainer, const std::string& service, const std::string& where,
    boost::json::object inspected,
    const std::function<boost::json::object(const boost::json::object&)>& spec_of);

class SwarmDeployTarget final : public engine::DeployTarget {
 public:
  explicit SwarmDeployTarget(const targets::TargetResolver& targets,
                             std::chrono::milliseconds poll = std::chrono::seconds(1));

  void start(const engine::DeployJob& job,
             engine::Callbacks<engine::DeployOutcome> callbacks) override {
    runner_.start(job, std::move(callbacks));
  }
  // Stops watching and fails the deploy; Swarm goes on with the update
  // (roll back to undo).
  void cancel(const std::string& deploy_id, uint32_t attempt) override {
    runner_.cancel(deploy_id, attempt);
  }

 private:
  void run(remote_deploy::Deploy& deploy);

  const targets::TargetResolver& targets_;
  std::chrono::milliseconds poll_;
  remote_deploy::DeployRunner runner_;  // last: joins the threads that use the above
};

}  // namespace wharf::swarm
