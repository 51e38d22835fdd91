#pragma once
// JenkinsBuildRunner: builds a commit with a Jenkins job, for build steps
// whose runner is BUILD_RUNNER_TYPE_JENKINS (step.jenkins: url, job path with
// folders, templated parameters, optional config.xml, artifact file).
//
//   1. config_xml set: create the job (createItem) or update its config.xml.
//   2. Find the build this run + attempt already started — a build or queue
//      item whose WHARF_RUN_ID parameter is "<run>#<attempt>" — else POST
//      buildWithParameters with the expanded parameters plus WHARF_RUN_ID.
//   3. Follow the queue item (why, cancelled) to the build number, then poll
//      the build while streaming logText/progressiveText into the step log
//      (DATA/logs/<run>/build-<attempt>.log, rewritten from byte 0 on adoption).
//   4. SUCCESS: the image is the archived artifact file (default image.json,
//      {"image","digest"}), else an IMAGE parameter or the build description
//      holding "<image>@sha256:<hex>"; the artifact URI is the pinned
//      reference "<image>@<digest>", what Kubernetes and Swarm deploy.
// Cancel: cancelItem while queued, stop (then term, kill) while running.
// wharf stopping: the runner stops watching; the build goes on in Jenkins and
// is adopted by the next start (step 2), so a SIGKILL never builds twice.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/jenkins/client.h"
#include "adapters/local/active_jobs.h"
#include "adapters/local/layout.h"
#include "adapters/local/task_group.h"
#include "engine/ports.h"

namespace wharf::jenkins {

// The ${name} values a build step's parameters may use.
std::map<std::string, std::string> template_values(const engine::BuildJob& job);

class JenkinsBuildRunner final : public engine::BuildRunner {
 public:
  JenkinsBuildRunner(std::filesystem::path data_dir, ServerConfig server);
  ~JenkinsBuildRunner() override;

  void start(const engine::BuildJob& job,
             engine::Callbacks<engine::BuildOutcome> callbacks) override;
  void cancel(const std::string& run_id, uint32_t attempt) override;

 private:
  using Jobs = local::ActiveJobs<engine::BuildOutcome>;
  void run(const engine::BuildJob& job, std::shared_ptr<Jobs::Job> active);
  std::shared_ptr<Client> client_for(const std::string& root);

  local::DataLayout layout_;
  ServerConfig server_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Client>> clients_;  // by root URL (crumb cache)
  Jobs jobs_;
  local::TaskGroup tasks_;  // last: joins the threads that use the above
};

}  // namespace wharf::jenkins
