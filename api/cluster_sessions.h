#pragma once
// Service logs and terminals of Kubernetes and Swarm environments
// (docs/operations.md): the resolvers a MaintenanceHost uses for those
// target types. Kubernetes: the Deployment's running pods by its label
// selector (the current version's first), the pod's log followed live, exec
// over WebSocket (adapters/kubernetes/pod_logs.h, pod_exec.h). Swarm through
// Portainer: the service's logs, demultiplexed, and Docker exec in a running
// task's container (adapters/swarm/service_logs.h, container_exec.h).
// Resolving calls the cluster or Portainer (blocking, bounded by their
// timeouts) so a refusal is an answer before anything is audited.
#include <map>
#include <string>
#include <vector>

#include "adapters/targets/registry.h"
#include "api/maintenance.h"

namespace wharf::api {

// The clusters and Portainers come from `targets` (docs/targets.md), which
// must outlive the host.
void add_cluster_sessions(MaintenanceHost& host, const targets::TargetResolver& targets);

// settings.exec_command split at spaces; "/bin/sh" when unset.
std::vector<std::string> exec_command_of(const std::map<std::string, std::string>& settings);

}  // namespace wharf::api
