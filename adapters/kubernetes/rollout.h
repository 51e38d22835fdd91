#pragma once
// Reading a Deployment the way `kubectl rollout status` does
// (kubernetes/kubectl pkg/polymorphichelpers/rollout_status.go), and the
// strategic-merge patch wharf sends. Pure: JSON in, JSON or a verdict out.
#include <boost/json.hpp>
#include <map>
#include <string>

#include "adapters/remote_deploy/remote_deploy.h"

namespace wharf::kubernetes {

inline constexpr const char* kDeployAnnotation = "wharf.dev/deploy";  // "<deploy id>#<attempt>"

using Rollout = remote_deploy::Verdict;

// The verdict on a Deployment object (GET …/deployments/{name}):
// waiting while the controller has not observed the latest generation, or
// updated/available replicas lag; failed on ProgressDeadlineExceeded.
Rollout rollout_of(const boost::json::object& deployment);

// The annotation wharf left on the Deployment, or "".
std::string deploy_key_of(const boost::json::object& deployment);

struct PatchInput {
  std::string container;
  std::string image;
  std::string deploy_key;  // "<deploy id>#<attempt>"
  std::string version;
  uint32_t replicas = 0;  // 0 = leave as is
  std::map<std::string, std::string> env;
  // When set, the PATCH applies only to this version of the Deployment
  // (metadata.resourceVersion; 409 Conflict otherwise).
  std::string resource_version = {};
};

// metadata.resourceVersion of an object, or "".
std::string resource_version_of(const boost::json::object& object);

// application/strategic-merge-patch+json body: the container (merged by
// name) gets the image and env; the pod template gets the deploy key as an
// annotation, so a redeploy of the same image still rolls out; the
// Deployment gets it too, so a repeated start can tell it was already sent.
std::string strategic_merge_patch(const PatchInput& input);

}  // namespace wharf::kubernetes
