#pragma once
// LocalBuildRunner: checks a commit out of a local git repository and runs the
// project's build command in it, in a detached process that outlives wharf.
// The artifact is stored content-addressed; its digest is the version.
//
// Idempotent by run + attempt (DATA/builds/<run>-<attempt>.json): a repeated
// start reports the recorded result, or watches the build still running, or
// (only when the build process vanished without a result) runs it again.
// Every real start appends "build <run> <attempt> <pid>" to DATA/sideeffects.log.
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/local/active_jobs.h"
#include "adapters/local/layout.h"
#include "adapters/local/task_group.h"
#include "engine/ports.h"

namespace wharf::local {

class LocalBuildRunner final : public engine::BuildRunner {
 public:
  explicit LocalBuildRunner(std::filesystem::path data_dir);
  // Stops watching; running builds continue and are adopted by the next start.
  ~LocalBuildRunner() override;

  void start(const engine::BuildJob& job, engine::Callbacks<engine::BuildOutcome> callbacks) override;
  void cancel(const std::string& run_id, uint32_t attempt) override;

 private:
  using Jobs = ActiveJobs<engine::BuildOutcome>;
  void run(const engine::BuildJob& job, std::shared_ptr<Jobs::Job> active);

  DataLayout layout_;
  Jobs jobs_;
  TaskGroup tasks_;
};

}  // namespace wharf::local
