#pragma once
// LocalDeployTarget: runs an artifact's start command as a supervised process
// per environment (own session and process group, PORT set), checks its health
// over HTTP, and only then switches: the new instance becomes current and the
// old one is stopped (SIGTERM, SIGKILL after a grace period). A new instance
// that does not become healthy is killed; the old one keeps serving.
//
// Ports: a free port per instance, or, when the environment's settings name a
// "port" P, the two slots P and P+1 alternately (the old instance keeps its
// slot until the switch).
//
// State per environment: DATA/targets/<project>/<env>.json holds the current
// instance and a pending one (deploy id, attempt, pid, port, spec). A repeated
// deploy of the key that is current is reported as done; a pending instance
// that still runs is adopted. Every real start appends
// "deploy <deploy_id> <attempt> <pid>" to DATA/sideeffects.log.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/local/active_jobs.h"
#include "adapters/local/layout.h"
#include "adapters/local/task_group.h"
#include "engine/ports.h"

namespace wharf::local {

struct DeployTargetOptions {
  std::chrono::milliseconds health_timeout{std::chrono::seconds(30)};  // settings "health_timeout_s"
  std::chrono::milliseconds stop_grace{std::chrono::seconds(5)};
};

// What serves an environment now, from its state file.
struct ServingInstance {
  std::string deploy_id;
  uint32_t attempt = 0;
  int pid = 0;
  int port = 0;
  std::string url;
  std::string version;
  std::string artifact_digest;
  std::string log_file;  // the instance's stdout and stderr (and wharf's notes on it)
  std::string work_dir;  // where it runs (a terminal opens here)
  bool alive = false;
};

class LocalDeployTarget final : public engine::DeployTarget {
 public:
  explicit LocalDeployTarget(std::filesystem::path data_dir, DeployTargetOptions options = {});
  // Stops watching; instances keep serving (they outlive wharf by design).
  ~LocalDeployTarget() override;

  void start(const engine::DeployJob& job, engine::Callbacks<engine::DeployOutcome> callbacks) override;
  void cancel(const std::string& deploy_id, uint32_t attempt) override;

  // Restarts, from the recorded spec, every current instance whose process is
  // gone (e.g. after a reboot). Returns how many were restarted.
  int restore();
  // The instance currently serving, if any.
  std::optional<ServingInstance> serving(const std::string& project_id,
                                         const std::string& environment) const;
  // Canaries (docs/canary.md): a deploy whose spec carries a canary strategy
  // starts beside the current instance (state slot "canary") and does not
  // switch. finish_canary() ends it in the background: promoted, it becomes
  // current and the old instance stops; else it stops.
  void finish_canary(const std::string& project_id, const std::string& environment,
                     const std::string& deploy_id, uint32_t attempt, bool promoted);
  std::optional<ServingInstance> serving_canary(const std::string& project_id,
                                                const std::string& environment) const;
  // Stops every instance this data dir knows of and forgets them (tests).
  void stop_all();
  // Stops every instance this data dir runs and keeps what each environment
  // serves: the next restore() (the next `wharf serve`) starts the current
  // ones again from their recorded spec. Returns how many process groups it
  // stopped. `wharf services stop`, `scripts/run --stop`.
  int stop_services();

 private:
  using Jobs = ActiveJobs<engine::DeployOutcome>;
  void run(const engine::DeployJob& job, std::shared_ptr<Jobs::Job> active);
  std::mutex& environment_mutex(const std::string& project_id, const std::string& environment);

  DataLayout layout_;
  DeployTargetOptions options_;
  Jobs jobs_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<std::mutex>> env_locks_;  // one deploy at a time
  TaskGroup tasks_;
};

}  // namespace wharf::local
