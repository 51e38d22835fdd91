#pragma once
// Service logs of a Kubernetes environment (docs/operations.md#service-logs):
// the pods of the environment's Deployment, found by its label selector, and
// one pod's container log, followed live
// (GET /api/v1/namespaces/{ns}/pods/{pod}/log?follow=&tailLines=&container=,
// ../shared/protocols.md §3). Also what pod_exec.h uses to find its pod.
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "adapters/http/http_stream.h"
#include "adapters/kubernetes/deploy_target.h"

namespace wharf::kubernetes {

// The cluster an environment names (target_ref and settings,
// deploy_target.h), for reading: no image is needed.
Expected<ClusterTarget, std::string> cluster_of_settings(
    const std::map<std::string, std::string>& settings, const std::string& target_ref,
    const targets::TargetResolver& targets);

// The pods of the Deployment, by its spec.selector.matchLabels: running pods
// of `version` (pod annotation wharf.dev/version) first, then other running
// pods, each group by name; pods that do not run are left out. Fails when the
// Deployment cannot be read, has no matchLabels, or no pod runs.
Expected<std::vector<std::string>, std::string> running_pods(const ClusterTarget& t,
                                                             const std::string& version);

struct PodLogOptions {
  std::string pod;
  std::string container;    // empty: the target's container
  uint32_t tail_lines = 0;  // 0: the whole log
  bool follow = false;
};

// The pod log path for `o` (below api_url; percent-encoded query).
std::string pod_log_path(const ClusterTarget& t, const PodLogOptions& o);

// Streams the pod's log to `sink` until it ends (container exited, not
// following), `sink` answers false or `stop` is set; an error answer (400 for
// a pod that does not run yet, 401, 403, 404) is the Status message.
Expected<void, std::string> stream_pod_log(const ClusterTarget& t, const PodLogOptions& o,
                                           const http_client::ChunkSink& sink,
                                           const std::atomic<bool>& stop);

}  // namespace wharf::kubernetes
