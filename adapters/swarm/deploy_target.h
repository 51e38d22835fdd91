#pragma once
// SwarmDeployTarget: puts a DeploySpec in place by updating a Docker Swarm
// service through Portainer's Docker proxy: inspect the service, send back its
// full Spec with the new image (and env, replicas, a deploy label, a bumped
// ForceUpdate) at the inspected version — re-inspecting on "update out of
// sequence" — then wait for UpdateStatus "completed"; "paused" and rollback_*
// fail the deploy with the daemon's message. Target settings:
//
//   portainer_url  https://portainer:9443 (required)
//   service        service id or name (required)
//   endpoint_id    Portainer environment id (default 1)
//   api_key        Portainer access token (X-API-Key), or username + password
//                  (JWT from /api/auth, renewed once on 401)
//   image          image reference; "{version}" and "{digest}" are replaced
//                  (default: the spec's artifact_uri)
//   ca_file, insecure_skip_tls_verify, url, update_timeout_s (default 300)
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
#include "engine/ports.h"
#include "events/expected.h"

namespace wharf::swarm {

struct PortainerTarget {
  std::string portainer_url, endpoint_id = "1", service, api_key, username, password, image,
                             ca_file, url;
  bool insecure = false;
  std::chrono::seconds update_timeout{300};
};

Expected<PortainerTarget, std::string> portainer_target_of(const wharf::v1::DeploySpec& spec);

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
  explicit SwarmDeployTarget(std::chrono::milliseconds poll = std::chrono::seconds(1));

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

  std::chrono::milliseconds poll_;
  remote_deploy::DeployRunner runner_;  // last: joins the threads that use the above
};

}  // namespace wharf::swarm
