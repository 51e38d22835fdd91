#pragma once
// Docker Swarm service updates as Portainer proxies them (shared/protocols.md
// §4), the pure part: the new full ServiceSpec from the inspected one, and the
// verdict on an inspected service's UpdateStatus.
#include <boost/json.hpp>
#include <map>
#include <string>

#include "adapters/remote_deploy/remote_deploy.h"

namespace wharf::swarm {

inline constexpr const char* kDeployLabel = "wharf.deploy";  // "<deploy id>#<attempt>"

struct SpecChange {
  std::string image;
  std::string deploy_key;
  uint64_t replicas = 0;  // 0 = leave as is
  std::map<std::string, std::string> env;
};

// The inspected service's Spec with the image, env entries (replaced by
// name), replicas and the deploy label changed, and TaskTemplate.ForceUpdate
// bumped so an unchanged image still redeploys. The update call replaces the
// whole spec, so everything else is carried over as inspected.
boost::json::object updated_spec(const boost::json::object& service, const SpecChange& change);

// The label wharf left on the service's Spec, or "".
std::string deploy_key_of(const boost::json::object& service);

using UpdateVerdict = remote_deploy::Verdict;

// completed = done; paused and rollback_* = failed (with the daemon's
// message); updating or no UpdateStatus yet = waiting.
UpdateVerdict verdict_of(const boost::json::object& service);

}  // namespace wharf::swarm
