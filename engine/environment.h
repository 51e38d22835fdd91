#pragma once
// The Environment aggregate (stream "env-<project_id>-<environment>"): the
// deploys of one environment. ONE deploy at a time: requests wait in a FIFO
// queue; the front is in flight; it leaves the queue when it succeeds, fails,
// times out or is cancelled, and the next one starts. Every successful deploy
// is remembered (event id -> spec) so a rollback resolves its target purely.
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/canary.h"
#include "engine/decision.h"
#include "engine/maintenance.h"
#include "engine/project.h"

namespace wharf::engine {

struct QueuedDeploy {
  std::string deploy_id;
  uint32_t attempt = 0;
  std::string run_id;
  std::string rollback_id;
  std::string request_event_id;
  wharf::v1::DeploySpec spec;
  bool started = false;  // DeployStarted seen
};

struct SucceededDeploy {
  std::string event_id;  // of the DeploySucceeded; what a rollback targets
  std::string deploy_id;
  uint32_t attempt = 0;
  std::string run_id;
  wharf::v1::DeploySpec spec;
  std::string url;
  int64_t occurred_at_us = 0;
};

// How a deploy attempt that left the queue ended.
struct FinishedDeploy {
  bool succeeded = false;
  bool cancelled = false;
  std::string run_id;
  std::string url;
  std::string reason;
  std::string event_id;  // the DeploySucceeded / DeployFailed
};

struct EnvironmentState {
  std::string project_id;
  std::string environment;
  std::deque<QueuedDeploy> queue;  // front() is in flight
  int64_t in_flight_since_us = 0;  // when front() became in flight
  std::vector<SucceededDeploy> succeeded;                     // oldest first
  std::unordered_map<std::string, FinishedDeploy> finished;  // by deploy_key()
  std::unordered_set<std::string> queued;                     // deploy_key() of each in queue
  std::unordered_set<std::string> rollbacks;                  // rollback ids seen
  bool last_removed_was_in_flight = false;  // of the latest DeploySucceeded/Failed
  CanaryState canary;                       // engine/canary.h
  MaintenanceState maintenance;  // health, test cases, log/terminal sessions (maintenance.h)

  const QueuedDeploy* in_flight() const { return queue.empty() ? nullptr : &queue.front(); }
  // The queued (or in-flight) deploy, or nullptr.
  const QueuedDeploy* find(const std::string& deploy_id, uint32_t attempt) const;
  // The finished deploy attempt, or nullptr.
  const FinishedDeploy* find_finished(const std::string& deploy_id, uint32_t attempt) const;
  // The successful deploy with this DeploySucceeded event id, or nullptr.
  const SucceededDeploy* find_succeeded(const std::string& event_id) const;
  // The deploy that serves the environment: the latest successful one, unless
  // that is a canary that was aborted (its instances are gone; the stable
  // version serves all traffic again). nullptr before the first success.
  const SucceededDeploy* serving() const;
  // The latest successful deploy of `version`, or nullptr. A version also
  // matches by artifact digest, or by a >= 7 character prefix of its hex.
  const SucceededDeploy* latest_of_version(const std::string& version) const;
};

std::string deploy_key(const std::string& deploy_id, uint32_t attempt);

void apply(EnvironmentState& state, const wharf::v1::Envelope& event);
inline EnvironmentState evolve(EnvironmentState state, const wharf::v1::Envelope& event) {
  apply(state, event);
  return state;
}
// Decides RequestDeploy, RecordDeployProgress, RecordDeployResult,
// CancelDeploy, RequestRollback, deploy ExpireTimer and the maintenance
// commands (maintenance.h). `project` is needed by
// manual RequestDeploy; `target_event` by RequestRollback with an event id.
Decision decide(const EnvironmentState& state, const Command& command, const Context& context,
                const ProjectState* project, const wharf::v1::Envelope* target_event);

}  // namespace wharf::engine
