#include "adapters/remote_deploy/remote_deploy.h"

#include <spdlog/spdlog.h>

#include <thread>

namespace wharf::remote_deploy {

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

std::string setting(const wharf::v1::DeploySpec& spec, const char* key, std::string fallback) {
  auto it = spec.target_settings().find(key);
  return it != spec.target_settings().end() && !it->second.empty() ? it->second : fallback;
}

std::string image_of(const wharf::v1::DeploySpec& spec) {
  return replace_all(
      replace_all(setting(spec, "image", spec.artifact_uri()), "{version}", spec.version()),
      "{digest}", spec.artifact_digest());
}

std::chrono::seconds seconds_setting(const wharf::v1::DeploySpec& spec, const char* key,
                                     std::chrono::seconds fallback) {
  const std::string text = setting(spec, key);
  return text.empty() ? fallback : std::chrono::seconds(std::stoll(text));
}

Deploy::Deploy(const engine::DeployJob& job, Jobs& jobs, std::shared_ptr<Jobs::Job> active,
               const local::TaskGroup& tasks, std::string log_name)
    : job_(job),
      jobs_(jobs),
      active_(std::move(active)),
      tasks_(tasks),
      log_name_(std::move(log_name)),
      key_(local::job_key(job.deploy_id, job.attempt)) {}

void Deploy::progress(engine::StepProgress::Kind kind, const std::string& external_id,
                      const std::string& message) {
  jobs_.progress(key_, {kind, external_id, "", message, 0});
}

void Deploy::succeed(const std::string& url) {
  jobs_.finish(key_, {true, url, ""});
}

void Deploy::fail(const std::string& reason) {
  spdlog::warn("{}: deploy {} failed: {}", log_name_, key_, reason);
  jobs_.finish(key_, {false, "", reason});
}

DeployRunner::DeployRunner(std::string log_name, Body body)
    : log_name_(std::move(log_name)), body_(std::move(body)) {}

DeployRunner::~DeployRunner() {
  tasks_.stop_and_join();
}

void DeployRunner::start(const engine::DeployJob& job,
                         engine::Callbacks<engine::DeployOutcome> callbacks) {
  auto active = jobs_.add(local::job_key(job.deploy_id, job.attempt), std::move(callbacks));
  if (!active) return;  // joined the same key in progress
  tasks_.run([this, job, active] {
    Deploy deploy(job, jobs_, active, tasks_, log_name_);
    body_(deploy);
  });
}

void DeployRunner::cancel(const std::string& deploy_id, uint32_t attempt) {
  jobs_.cancel(local::job_key(deploy_id, attempt));
}

Expected<bool, std::string> poll_until(const Watch& how,
                                       const std::function<Expected<Verdict, std::string>()>& check,
                                       const std::function<bool()>& stop,
                                       const std::function<void(const std::string&)>& progress) {
  const auto deadline = std::chrono::steady_clock::now() + how.timeout;
  std::string last;
  while (!stop()) {
    auto verdict = check();
    if (!verdict) return unexpected(verdict.error());
    if (verdict->state == Verdict::State::kDone) return true;
    if (verdict->state == Verdict::State::kFailed) return unexpected(verdict->message);
    if (verdict->message != last) {
      if (progress) progress(verdict->message);
      last = verdict->message;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return unexpected(how.what + " not done after " + std::to_string(how.timeout.count()) +
                        " s: " + verdict->message);
    }
    if (how.wait) {
      how.wait(how.poll);
    } else {
      std::this_thread::sleep_for(how.poll);
    }
  }
  return false;
}

void watch(Deploy& deploy, const Watch& how,
           const std::function<Expected<Verdict, std::string>()>& check) {
  bool cancelled = false;
  auto done = poll_until(
      how, check,
      [&] {
        cancelled = !deploy.stopping() && deploy.cancelled();
        return deploy.stopping() || cancelled;
      },
      [&](const std::string& message) {
        deploy.progress(engine::StepProgress::Kind::kProgress, how.external_id, message);
      });
  if (!done) return deploy.fail(done.error());
  if (*done) return deploy.succeed(how.url);
  if (cancelled) deploy.fail("cancelled while watching the " + how.what + how.on_cancel);
}

}  // namespace wharf::remote_deploy
