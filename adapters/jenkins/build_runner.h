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
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/jenkins/client.h"
#include "adapters/local/active_jobs.h"
#include "adapters/local/layout.h"
#include "adapters/local/task_group.h"
#include "adapters/targets/probe.h"
#include "adapters/targets/registry.h"
#include "engine/ports.h"

namespace wharf::jenkins {

// What the runner did since wharf started (wharf serve publishes these on
// /metrics as wharf_jenkins_*).
struct RunnerStats {
  uint64_t triggered = 0;      // buildWithParameters that queued a new build
  uint64_t adopted = 0;        // builds/queue items found by WHARF_RUN_ID instead
  uint64_t succeeded = 0;      // build steps that recorded an image
  uint64_t failed = 0;         // build steps that failed (not by cancel)
  uint64_t cancelled = 0;      // build steps ended by a cancel
  uint64_t retries = 0;        // calls repeated after no answer or a 5xx
  uint64_t crumb_fetches = 0;  // crumbs fetched because Jenkins asked
};
struct RunnerCounters {
  std::atomic<uint64_t> triggered{0}, adopted{0}, succeeded{0}, failed{0}, cancelled{0};
};

// The reachability probe of a Jenkins target: GET /api/json with its user +
// token (the X-Jenkins header is the server version).
targets::ProbeResult probe_jenkins(const targets::ResolvedTarget& server);

// The ${name} values a build step's parameters may use.
std::map<std::string, std::string> template_values(const engine::BuildJob& job);

class JenkinsBuildRunner final : public engine::BuildRunner {
 public:
  // `server`: call settings (tries, backoff, search) and, when its url is
  // set, the server of steps that name none. A step naming a Jenkins target
  // (jenkins.server) — or naming none while `server` has no url: the target
  // "jenkins", serve's --jenkins-* shorthand — gets URL, CA and user + token
  // from `targets` (docs/targets.md).
  JenkinsBuildRunner(std::filesystem::path data_dir, ServerConfig server,
                     const targets::TargetResolver& targets = targets::no_targets());
  ~JenkinsBuildRunner() override;

  void start(const engine::BuildJob& job,
             engine::Callbacks<engine::BuildOutcome> callbacks) override;
  void cancel(const std::string& run_id, uint32_t attempt) override;

  RunnerStats stats() const;

 private:
  using Jobs = local::ActiveJobs<engine::BuildOutcome>;
  void run(const engine::BuildJob& job, std::shared_ptr<Jobs::Job> active);
  std::shared_ptr<Client> client_for(const std::string& key, const std::string& root,
                                     const ServerConfig& server);

  local::DataLayout layout_;
  ServerConfig server_;
  const targets::TargetResolver& targets_;
  RunnerCounters counters_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Client>> clients_;  // by root URL (crumb cache)
  Jobs jobs_;
  local::TaskGroup tasks_;  // last: joins the threads that use the above
};

}  // namespace wharf::jenkins
