#pragma once
// The PipelineRun aggregate (stream "run-<run_id>"): one commit's way from
// build through each environment of the project, as a cursor over steps.
// The state machine is drawn in docs/engine.md.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/decision.h"
#include "engine/project.h"

namespace wharf::engine {

enum class RunStatus {
  kNone,              // no such run
  kRunning,           // a step is requested or running
  kAwaitingApproval,  // stopped at a manual gate
  kSucceeded,         // PipelineRunCompleted(SUCCEEDED)
  kFailed,            // PipelineRunCompleted(FAILED); RetryStep reopens it
  kCancelled,         // PipelineRunCancelled; final
};

// Which step the run is at (or failed at).
enum class RunStep { kNone, kBuild, kDeploy, kTests, kApproval };

enum class StepPhase { kRequested, kQueued, kStarted, kSucceeded, kFailed };

struct RunState {
  RunStatus status = RunStatus::kNone;
  std::string run_id;
  std::string project_id;
  std::string commit_sha;
  std::string repository;
  wharf::v1::CommitObserved commit;
  std::vector<wharf::v1::EnvironmentSpec> stages;  // snapshot from PipelineRunStarted
  wharf::v1::PipelineTemplate pipeline;
  wharf::v1::BuildStep build_step;

  // The cursor: step `step` at stage index `stage` (-1 while building).
  RunStep step = RunStep::kNone;
  int stage = -1;
  StepPhase phase = StepPhase::kRequested;
  uint32_t attempt = 0;
  int64_t step_since_us = 0;  // when the current attempt was requested
  std::string deploy_id;      // of the current stage's deploy
  std::string target_url;     // of the current stage, once deployed
  std::string failure_reason;

  // Set by VersionRecorded.
  std::string version;
  std::string artifact_digest;
  std::string artifact_uri;

  // Name of the current stage's environment ("" while building).
  const std::string& environment() const;
  bool finished() const {
    return status == RunStatus::kSucceeded || status == RunStatus::kCancelled;
  }
};

// Deterministic deploy id of a run's stage: "<run_id>.<environment>".
std::string stage_deploy_id(const std::string& run_id, const std::string& environment);
// The spec a run deploys to `stage`: its version with the template and stage settings.
wharf::v1::DeploySpec stage_deploy_spec(const RunState& run, const wharf::v1::EnvironmentSpec& stage);

void apply(RunState& state, const wharf::v1::Envelope& event);
inline RunState evolve(RunState state, const wharf::v1::Envelope& event) {
  apply(state, event);
  return state;
}
// Decides the run commands. ObserveCommit needs the project (`project` may be
// nullptr for every other command).
Decision decide(const RunState& state, const Command& command, const Context& context,
                const ProjectState* project);

}  // namespace wharf::engine
