#pragma once
// Every command the engine decides, as plain values. A command names what a
// caller wants; the decider of the stream `stream_of(command)` (engine.h)
// turns it into events or a Rejection. Commands carry the ids of what they
// create when the caller has them; otherwise ids derive from Context::command_id
// (engine/ids.h), so a retried command yields the same events.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/canary_commands.h"
#include "engine/maintenance_commands.h"
#include "engine/target_commands.h"
#include "wharf/v1/envelope.pb.h"

namespace wharf::engine {

// Who issued a command, when, and under which id. Pure inputs: the engine
// never reads a clock or a random source.
struct Context {
  wharf::v1::Actor actor;
  std::string command_id;      // unique per command; event ids derive from it
  int64_t now_us = 0;          // becomes the events' occurred_at_us
  std::string correlation_id;  // optional; defaults to the run / deploy id
  std::string causation_id;    // optional; defaults to command_id
};

// Why a command was refused. `reason` is written for a user to read, e.g.
// "run r-1 is cancelled; cannot record build result".
struct Rejection {
  enum class Code {
    kNotFound,           // the project / run / deploy / request does not exist
    kAlreadyExists,      // creating something that exists with other content
    kInvalidArgument,    // the command itself is malformed
    kInvalidTransition,  // not allowed in the current state
    kStale,              // about a step or attempt that is already over; safe to drop
    kWrongStream,        // programming error: command given to the wrong decider
  };
  Code code = Code::kInvalidArgument;
  std::string reason;
};

const char* to_string(Rejection::Code code);

// ---- Project: stream "project-<project_id>" ----

struct CreateProject {
  std::string project_id;  // [A-Za-z0-9._-]{1,64}
  // Environment names are [A-Za-z0-9._]{1,64}: no '-', so "env-<project>-<env>"
  // stream names never collide.
  std::string name;
  wharf::v1::RepositoryBinding repository;
  std::vector<wharf::v1::EnvironmentSpec> environments;  // promotion order
  wharf::v1::PipelineTemplate pipeline;
  std::string owner;  // empty = Context::actor.id
  // What the caller's Gerrit project set-up did (recorded in ProjectCreated).
  std::optional<wharf::v1::GerritProjectSetup> gerrit_setup;
};

struct BindRepository {
  std::string project_id;
  wharf::v1::RepositoryBinding repository;
};

// Replaces the pipeline template. Runs already started keep theirs (their
// PipelineRunStarted carries a copy); runs started afterwards use this one.
struct UpdatePipelineTemplate {
  std::string project_id;
  wharf::v1::PipelineTemplate pipeline;  // needs a build command
};

// Adds an environment, or replaces the one with the same name (keeping its
// place unless `order` is given).
struct DefineEnvironment {
  std::string project_id;
  wharf::v1::EnvironmentSpec environment;
  int32_t order = -1;  // -1: keep the existing place, or append
};

// ---- PipelineRun: stream "run-<run_id>" ----

// A commit that should start a run. Reads the project (engine.h: reads_of).
// Decided again with the same dedup_key it yields no events (idempotent).
struct ObserveCommit {
  std::string project_id;
  std::string run_id;  // empty: derived from project_id + dedup_key
  std::string commit_sha;
  std::string branch;
  std::string ref;
  uint64_t change_number = 0;
  uint32_t patchset = 0;
  wharf::v1::Person author;
  std::string subject;
  std::string source;     // "gerrit-stream", "local", "api", ...
  std::string dedup_key;  // empty: "<source>:<commit_sha>"
};

// Re-runs the build of a run whose build failed (same as RetryStep on a build).
struct RequestBuild {
  std::string run_id;
  std::string reason;
};

// What a BuildRunner reported (ports.h StepProgress).
struct RecordBuildProgress {
  std::string run_id;
  uint32_t attempt = 0;
  enum class Kind { kQueued, kStarted, kProgress } kind = Kind::kProgress;
  std::string external_id;
  std::string log_ref;
  std::string message;
};

struct RecordBuildResult {
  std::string run_id;
  uint32_t attempt = 0;
  bool succeeded = false;
  std::string artifact_digest;  // "sha256:<hex>" when succeeded
  std::string artifact_uri;
  std::string reason;
  int32_t exit_code = 0;
  uint64_t duration_ms = 0;
};

// Re-runs the post-deploy tests of a stage that is deployed (attempt + 1).
struct RunTests {
  std::string run_id;
  std::string environment;
  std::string reason;
};

struct RecordTestResult {
  std::string run_id;
  std::string environment;
  uint32_t attempt = 0;
  bool passed = false;
  std::vector<wharf::v1::SuiteResult> results;
  std::string reason;
};

// Opens the manual gate before `environment`.
struct Approve {
  std::string run_id;
  std::string environment;
  std::string comment;
};

struct CancelRun {
  std::string run_id;
  std::string reason;
};

// Retries the step that failed the run (build, a stage's deploy, or a stage's
// tests) with attempt + 1.
struct RetryStep {
  std::string run_id;
  std::string reason;
};

// Process-manager internal: the run's stage deploy ended on the environment
// stream (DeploySucceeded / DeployFailed carrying this run id).
struct RecordStageDeployResult {
  std::string run_id;
  std::string environment;
  std::string deploy_id;
  uint32_t attempt = 0;
  bool succeeded = false;
  std::string url;
  std::string reason;
  std::string deploy_event_id;
};

// A step's timer fired. Decided on the run stream for builds and tests and on
// the environment stream for deploys. A timer for a step that already ended
// yields no events.
struct ExpireTimer {
  wharf::v1::StepKind step = wharf::v1::STEP_KIND_UNSPECIFIED;
  std::string project_id;
  std::string run_id;
  std::string environment;  // deploy and tests
  std::string deploy_id;    // deploy
  uint32_t attempt = 0;
  uint32_t timeout_s = 0;
};

// ---- Environment: stream "env-<project_id>-<environment>" ----

// Queues a deploy. From a run stage (run_id set, spec complete, issued by the
// process manager) or manual (run_id empty: spec needs version,
// artifact_digest, artifact_uri; the rest comes from the project, which this
// command then reads). Deciding the same deploy_id + attempt again yields no events.
struct RequestDeploy {
  std::string project_id;
  std::string environment;
  std::string deploy_id;  // empty: derived from command_id
  std::string run_id;
  uint32_t attempt = 1;
  wharf::v1::DeploySpec spec;
};

// What a DeployTarget reported (ports.h StepProgress).
struct RecordDeployProgress {
  std::string project_id;
  std::string environment;
  std::string deploy_id;
  uint32_t attempt = 0;
  enum class Kind { kQueued, kStarted, kProgress } kind = Kind::kProgress;
  std::string external_id;
  std::string message;
  uint32_t percent = 0;
};

struct RecordDeployResult {
  std::string project_id;
  std::string environment;
  std::string deploy_id;
  uint32_t attempt = 0;
  bool succeeded = false;
  std::string url;
  std::string reason;
};

// Drops a deploy from the environment: queued -> removed, in flight ->
// failed (the process manager also cancels the work). Used when its run is
// cancelled.
struct CancelDeploy {
  std::string project_id;
  std::string environment;
  std::string deploy_id;
  uint32_t attempt = 0;
  std::string reason;
};

// Returns an environment to an earlier successful deploy. Exactly one of
// target_deploy_event_id / target_version. With an event id the runtime loads
// that event (engine.h: target_event_of) and passes it in Lookups.
struct RequestRollback {
  std::string project_id;
  std::string environment;
  std::string target_deploy_event_id;
  std::string target_version;  // the latest successful deploy of it here
  std::string reason;
  std::string rollback_id;  // empty: derived from command_id
};

// ---- Access: stream "access-<project_id>" ----

struct RequestPermission {
  std::string project_id;
  std::string user;
  wharf::v1::Role role = wharf::v1::ROLE_UNSPECIFIED;
  std::string reason;
  std::string request_id;  // empty: derived from command_id
};

// Grants directly, or approves a pending request (request_id set).
struct GrantPermission {
  std::string project_id;
  std::string user;
  wharf::v1::Role role = wharf::v1::ROLE_UNSPECIFIED;
  std::string request_id;
};

struct DenyPermission {
  std::string project_id;
  std::string request_id;
  std::string reason;
};

struct RevokePermission {
  std::string project_id;
  std::string user;
  wharf::v1::Role role = wharf::v1::ROLE_UNSPECIFIED;
  std::string reason;
};

using Command = std::variant<
    CreateProject, BindRepository, DefineEnvironment, UpdatePipelineTemplate,  //
    ObserveCommit, RequestBuild, RecordBuildProgress, RecordBuildResult,       //
    RunTests, RecordTestResult, Approve, CancelRun, RetryStep,                 //
    RecordStageDeployResult, ExpireTimer,                                      //
    RequestDeploy, RecordDeployProgress, RecordDeployResult, CancelDeploy,
    RequestRollback,  //
    RequestPermission, GrantPermission, DenyPermission, RevokePermission, ObserveHealth,
    RequestTestCases, RecordTestCaseResults, OpenServiceLogs, OpenTerminal, CloseTerminal,  //
    PromoteCanary, AbortCanary, RecordDubboRule,                                            //
    RegisterTarget, UpdateTarget, RotateTargetCredentials, RemoveTarget, ObserveTargetHealth>;

// The command's name ("ObserveCommit"), for logs and metrics.
const char* command_name(const Command& command);

}  // namespace wharf::engine
