#pragma once
// Commands of application maintenance (issue 12b, docs/operations.md), all
// decided on the environment stream "env-<project_id>-<environment>" by
// engine/maintenance.h. Included by engine/commands.h into `Command`.
#include <cstdint>
#include <string>
#include <vector>

#include "wharf/v1/maintenance.pb.h"

namespace wharf::engine {

// One probe of the environment's current deploy.
struct HealthSample {
  bool ok = false;
  std::string detail;  // "HTTP 200", "connection refused", …
};

// What the health monitor saw in one interval. The verdict needs
// `unhealthy_after` consecutive failed probes (or `healthy_after` passing
// ones) before it differs from the recorded state, so a probe that flaps
// inside the interval changes nothing; a change yields one HealthChanged.
struct ObserveHealth {
  std::string project_id;
  std::string environment;
  std::string deploy_id;  // the deploy the monitor probed; stale if no longer current
  std::string url;
  std::vector<HealthSample> samples;  // oldest first
  uint32_t unhealthy_after = 1;
  uint32_t healthy_after = 1;
};

// Runs named test cases (EnvironmentSpec.test_cases) against the current
// deploy. Reads the project (engine.h reads_of).
struct RequestTestCases {
  std::string project_id;
  std::string environment;
  std::vector<std::string> cases;  // names, in run order; empty = every declared case
  std::string trigger = "manual";  // or "after-deploy"
  std::string test_run_id;         // empty: derived from command_id
  std::string deploy_event_id;     // "after-deploy": the DeploySucceeded it follows
};

// What the TestRunner reported for a test case run.
struct RecordTestCaseResults {
  std::string project_id;
  std::string environment;
  std::string test_run_id;
  bool passed = false;
  std::vector<wharf::v1::SuiteResult> results;
  std::string reason;
};

// Audit: a user opens the service logs (before the first byte is sent).
struct OpenServiceLogs {
  std::string project_id;
  std::string environment;
  std::string session_id;  // empty: derived from command_id
  std::string source;
  bool follow = false;
  uint32_t tail_lines = 0;
  std::string remote;
};

// Audit: a user opens a terminal.
struct OpenTerminal {
  std::string project_id;
  std::string environment;
  std::string session_id;
  std::string where;
  std::string remote;
};

// Audit: the terminal session `session_id` ended.
struct CloseTerminal {
  std::string project_id;
  std::string environment;
  std::string session_id;
  uint64_t duration_ms = 0;
  std::string reason;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string remote;  // the client's address, as on TerminalOpened
};

}  // namespace wharf::engine
