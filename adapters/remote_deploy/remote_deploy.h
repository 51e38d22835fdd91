#pragma once
// What the deploy targets that drive another system (Kubernetes, Swarm via
// Portainer) share: reading their settings from the DeploySpec, the job
// bookkeeping (a repeated start of a key joins the running one, each deploy
// on its own thread, cancels passed on), and the watch loop that polls the
// system until the deploy is done, failed, cancelled or out of time.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "adapters/local/active_jobs.h"
#include "adapters/local/task_group.h"
#include "engine/ports.h"
#include "events/expected.h"

namespace wharf::remote_deploy {

// settings[key] when set and not empty, else `fallback`.
std::string setting(const wharf::v1::DeploySpec& spec, const char* key, std::string fallback = {});
// settings.image (default: the artifact URI) with "{version}" and "{digest}" replaced.
std::string image_of(const wharf::v1::DeploySpec& spec);
// settings[key] as whole seconds, else `fallback`.
std::chrono::seconds seconds_setting(const wharf::v1::DeploySpec& spec, const char* key,
                                     std::chrono::seconds fallback);

// The other system's answer to "is it there yet?".
struct Verdict {
  enum class State { kWaiting, kDone, kFailed };
  State state = State::kWaiting;
  std::string message;  // progress line, or the failure reason
};

// One deploy being carried out: its job, progress lines, its one outcome.
class Deploy {
 public:
  using Jobs = local::ActiveJobs<engine::DeployOutcome>;
  Deploy(const engine::DeployJob& job, Jobs& jobs, std::shared_ptr<Jobs::Job> active,
         const local::TaskGroup& tasks, std::string log_name);

  const engine::DeployJob& job() const { return job_; }
  const std::string& key() const { return key_; }
  void progress(engine::StepProgress::Kind kind, const std::string& external_id,
                const std::string& message);
  void succeed(const std::string& url);
  void fail(const std::string& reason);
  bool cancelled() const { return active_->cancel.load(); }
  bool stopping() const { return tasks_.stopping(); }

 private:
  const engine::DeployJob& job_;
  Jobs& jobs_;
  std::shared_ptr<Jobs::Job> active_;
  const local::TaskGroup& tasks_;
  std::string log_name_;
  std::string key_;
};

// Starts each new key's deploy on its own thread with `body`; a repeated
// start of a key in progress joins it. Declare it as the owner's last
// member: its destructor joins the threads that call back into the owner.
class DeployRunner {
 public:
  using Body = std::function<void(Deploy&)>;
  DeployRunner(std::string log_name, Body body);
  ~DeployRunner();
  DeployRunner(const DeployRunner&) = delete;
  DeployRunner& operator=(const DeployRunner&) = delete;

  void start(const engine::DeployJob& job, engine::Callbacks<engine::DeployOutcome> callbacks);
  void cancel(const std::string& deploy_id, uint32_t attempt);

 private:
  std::string log_name_;
  Body body_;
  Deploy::Jobs jobs_;
  local::TaskGroup tasks_;
};

struct Watch {
  std::string external_id;  // e.g. "k8s:ns/name", on every progress line
  std::string what;         // "rollout of ns/name", in timeout and cancel reasons
  std::chrono::milliseconds poll{1000};
  std::chrono::seconds timeout{600};
  std::string url;        // reported on success
  std::string on_cancel;  // what stays behind when the watch is cancelled
  // Waits between two checks, up to the given time: the Kubernetes targets
  // return early when their watch brings news (deployment_watch.h). Default: sleeps.
  std::function<void(std::chrono::milliseconds)> wait = {};
};

// Polls `check` every `how.poll` until its verdict is done (true), `stop()`
// holds (false; asked before each poll), or it is failed, `check` fails or
// `how.timeout` passes (the reason). Each new waiting message goes to
// `progress`. The one wait loop of the Kubernetes and Swarm targets.
Expected<bool, std::string> poll_until(
    const Watch& how, const std::function<Expected<Verdict, std::string>()>& check,
    const std::function<bool()>& stop,
    const std::function<void(const std::string&)>& progress = {});

// poll_until for a deploy: done succeeds, a failure fails it, a cancel fails
// it naming what stays behind, wharf stopping leaves it without an outcome.
// Each new waiting message becomes a progress line.
void watch(Deploy& deploy, const Watch& how,
           const std::function<Expected<Verdict, std::string>()>& check);

}  // namespace wharf::remote_deploy
