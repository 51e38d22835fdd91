#pragma once
// LocalTestRunner: runs a stage's post-deploy suites one after another, each
// `/bin/sh -c <command>` with WHARF_TARGET_URL set to the deployed URL and a
// timeout, output to DATA/logs/<run>/tests-<env>-<attempt>.log. Suites run
// in DATA/work. A repeated start of a run+env+attempt that already finished
// reports the recorded result (DATA/tests/...json) instead of running again.
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/local/active_jobs.h"
#include "adapters/local/layout.h"
#include "adapters/local/task_group.h"
#include "engine/ports.h"

namespace wharf::local {

class LocalTestRunner final : public engine::TestRunner {
 public:
  explicit LocalTestRunner(std::filesystem::path data_dir);
  ~LocalTestRunner() override;

  void start(const engine::TestJob& job, engine::Callbacks<engine::TestOutcome> callbacks) override;
  // Cancels every test step of the run with this attempt.
  void cancel(const std::string& run_id, uint32_t attempt) override;

 private:
  using Jobs = ActiveJobs<engine::TestOutcome>;
  void run(const engine::TestJob& job, std::shared_ptr<Jobs::Job> active);

  DataLayout layout_;
  Jobs jobs_;
  std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> keys_by_run_;  // run#attempt -> job keys
  TaskGroup tasks_;
};

}  // namespace wharf::local
