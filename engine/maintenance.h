#pragma once
// Application maintenance of one environment (docs/operations.md): the health
// verdict of its current deploy, named test case runs, and the audit trail of
// log and terminal sessions. Part of the Environment aggregate (stream
// "env-<project_id>-<environment>"): EnvironmentState::maintenance, folded and
// decided here so engine/environment.cc only forwards. Pure.
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/decision.h"
#include "engine/project.h"

namespace wharf::engine {

struct EnvironmentState;

// A TestCasesRequested whose TestCasesFinished is not in the log yet.
struct PendingTestCases {
  std::string test_run_id;
  std::string deploy_id;
  std::string target_url;
  std::vector<wharf::v1::TestSuite> cases;
};

struct MaintenanceState {
  wharf::v1::HealthState health = wharf::v1::HEALTH_STATE_UNSPECIFIED;
  std::string health_deploy_id;  // the deploy `health` is about
  std::unordered_map<std::string, PendingTestCases> pending_test_cases;  // by test run id
  std::unordered_set<std::string> finished_test_cases;                   // test run ids
  std::unordered_set<std::string> after_deploy_requested;  // DeploySucceeded event ids
  std::unordered_set<std::string> log_sessions;            // session ids
  std::unordered_set<std::string> open_terminals;          // session ids
  std::unordered_set<std::string> closed_terminals;        // session ids
};

// The health verdict after `samples`, starting from `recorded`: it changes
// only after `unhealthy_after` consecutive failures or `healthy_after`
// consecutive passes (0 counts as 1). `deciding` is set to the index of the
// sample that settled the verdict (or -1 if none did).
wharf::v1::HealthState health_verdict(wharf::v1::HealthState recorded,
                                      const std::vector<HealthSample>& samples,
                                      uint32_t unhealthy_after, uint32_t healthy_after,
                                      int* deciding);

void apply(MaintenanceState& state, const wharf::v1::Envelope& event);

// True for ObserveHealth, RequestTestCases, RecordTestCaseResults,
// OpenServiceLogs, OpenTerminal and CloseTerminal.
bool is_maintenance(const Command& command);
// Decides a maintenance command. `project` is needed by RequestTestCases.
Decision decide_maintenance(const EnvironmentState& env, const Command& command,
                            const Context& context, const ProjectState* project);

}  // namespace wharf::engine
