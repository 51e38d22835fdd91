#pragma once
// The build port the process manager sees: each build goes to the runner its
// build step names (BuildStep.runner) — the local runner or a Jenkins job.
#include <map>
#include <mutex>
#include <string>

#include "engine/ports.h"

namespace wharf::runtime {

class BuildRouter final : public engine::BuildRunner {
 public:
  BuildRouter(engine::BuildRunner& local, engine::BuildRunner& jenkins)
      : local_(local), jenkins_(jenkins) {}

  void start(const engine::BuildJob& job,
             engine::Callbacks<engine::BuildOutcome> callbacks) override;
  void cancel(const std::string& run_id, uint32_t attempt) override;

 private:
  engine::BuildRunner& local_;
  engine::BuildRunner& jenkins_;
  std::mutex mutex_;
  std::map<std::string, engine::BuildRunner*> by_build_;  // builds in flight, for cancel
};

}  // namespace wharf::runtime
