#pragma once
// The ports through which the process manager asks the outside world for work.
// Adapters implement them (adapters/local, adapters/jenkins, adapters/kubernetes,
// adapters/kafka workers). Every request carries run id + attempt (or deploy id
// + attempt): an implementation must treat a repeated key as "report on the
// work already started", never start it twice.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/dubbo_rule.h"
#include "wharf/v1/pipeline.pb.h"
#include "wharf/v1/project.pb.h"

namespace wharf::engine {

// Progress and results flow back through this sink; the runtime turns each
// call into an engine command. Implementations may call it from any thread.
struct StepProgress {
  enum class Kind { kQueued, kStarted, kProgress };
  Kind kind = Kind::kProgress;
  std::string external_id;
  std::string log_ref;
  std::string message;
  uint32_t percent = 0;
};

struct BuildOutcome {
  bool succeeded = false;
  std::string artifact_digest;  // "sha256:<hex>"
  std::string artifact_uri;
  std::string reason;
  int32_t exit_code = 0;
  uint64_t duration_ms = 0;
};

struct DeployOutcome {
  bool succeeded = false;
  std::string url;
  std::string reason;
};

struct TestOutcome {
  bool passed = false;
  std::vector<wharf::v1::SuiteResult> results;
  std::string reason;
};

struct BuildJob {
  std::string run_id;
  std::string project_id;
  uint32_t attempt = 0;
  std::string commit_sha;
  std::string repository;
  wharf::v1::BuildStep step;
  // What the commit was seen as (for runners that template it, e.g. Jenkins).
  std::string branch{};
  uint64_t change_number = 0;
  uint32_t patchset = 0;
};

struct DeployJob {
  std::string deploy_id;
  std::string project_id;
  std::string environment;
  std::string run_id;
  uint32_t attempt = 0;
  wharf::v1::DeploySpec spec;
};

struct TestJob {
  std::string run_id;
  std::string project_id;
  std::string environment;
  uint32_t attempt = 0;
  std::string target_url;
  std::vector<wharf::v1::TestSuite> suites;
};

template <typename Outcome>
struct Callbacks {
  std::function<void(const StepProgress&)> progress;
  std::function<void(const Outcome&)> done;  // called exactly once
};

// Builds a commit into a content-addressed artifact.
class BuildRunner {
 public:
  virtual ~BuildRunner() = default;
  virtual void start(const BuildJob& job, Callbacks<BuildOutcome> callbacks) = 0;
  virtual void cancel(const std::string& run_id, uint32_t attempt) = 0;
};

// Puts a DeploySpec in place in one environment; the previous version keeps
// serving until the new one is healthy.
class DeployTarget {
 public:
  virtual ~DeployTarget() = default;
  virtual void start(const DeployJob& job, Callbacks<DeployOutcome> callbacks) = 0;
  virtual void cancel(const std::string& deploy_id, uint32_t attempt) = 0;
};

// Traffic between a canary and the stable version (docs/canary.md). The
// process manager calls set() for each canary step, promotion and abort (and
// again after a restart); the target moves traffic and, while the canary is
// at a step, runs the automatic analysis, reporting an over-threshold verdict
// through `abort` (at most once per canary).
struct CanaryTraffic {
  enum class Phase { kStep, kPromoted, kAborted };
  Phase phase = Phase::kStep;
  std::string canary_id;
  std::string project_id;
  std::string environment;
  std::string deploy_id;  // the canary's deploy
  uint32_t attempt = 0;
  uint32_t step = 0;
  uint32_t weight = 0;  // percent to the canary (0 after abort, 100 once promoted)
  wharf::v1::CanaryStrategy strategy;
  wharf::v1::DeploySpec spec;  // the canary's
  std::string canary_url;
  std::string stable_url;
  // Dubbo canaries: the config-center rules wharf owns, from the log.
  std::map<std::string, DubboRuleState> dubbo_rules;
};

struct CanaryVerdict {
  std::string reason;
  wharf::v1::CanaryFigures figures;
};

class CanaryTarget {
 public:
  virtual ~CanaryTarget() = default;
  virtual void set(const CanaryTraffic& traffic,
                   std::function<void(const CanaryVerdict&)> abort) = 0;
};

// Runs post-deploy test suites against a deployed URL.
class TestRunner {
 public:
  virtual ~TestRunner() = default;
  virtual void start(const TestJob& job, Callbacks<TestOutcome> callbacks) = 0;
  virtual void cancel(const std::string& run_id, uint32_t attempt) = 0;
};

}  // namespace wharf::engine
