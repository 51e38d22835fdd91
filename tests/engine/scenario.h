#pragma once
// Test support: an in-memory log that decides commands with the real engine
// (handle) and appends the events, so tests read "given these events, when
// this command, then these events / this error". Also a Harness that runs the
// process manager (reactor) over that log the way the runtime does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/reactor.h"

namespace wharf::engine::testing {

using Result = Expected<std::vector<Envelope>, Rejection>;

inline std::vector<std::string> types(const std::vector<Envelope>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type());
  return out;
}

inline std::vector<std::string> types(const Result& r) {
  return r.has_value() ? types(r.value())
                       : std::vector<std::string>{"rejected: " + r.error().reason};
}

class Log {
 public:
  int64_t now_us = 1'700'000'000'000'000;
  std::vector<Envelope> all;
  std::map<std::string, std::vector<Envelope>> streams;

  Context context(const std::string& actor = "alice") {
    Context ctx;
    ctx.actor.set_id(actor);
    ctx.actor.set_channel(wharf::v1::CHANNEL_CLI);
    ctx.command_id = "cmd-" + std::to_string(++next_command_);  // unique across logs
    ctx.now_us = (now_us += 1000);
    return ctx;
  }

  // Decides `command` with the engine against this log and appends the events.
  Result when(const Command& command, const std::string& actor = "alice") {
    return execute(command, context(actor));
  }

  Result execute(const Command& command, const Context& ctx) {
    const std::string stream = stream_of(command);
    Inputs inputs;
    if (std::string reads = reads_of(command); !reads.empty())
      inputs.project_history = streams[reads];
    if (std::string id = target_event_of(command); !id.empty()) {
      if (const Envelope* e = find(id)) inputs.target_event = *e;
    }
    Result r = handle(streams[stream], command, ctx, inputs);
    if (r.has_value()) append(r.value());
    return r;
  }

  // Appends raw events (given facts).
  void append(const std::vector<Envelope>& events) {
    for (Envelope e : events) {
      auto& s = streams[e.stream_id()];
      e.set_position(all.size() + 1);
      e.set_stream_version(s.size() + 1);
      e.set_recorded_at_us(e.occurred_at_us());
      s.push_back(e);
      all.push_back(e);
    }
  }

  const Envelope* find(const std::string& event_id) const {
    for (const auto& e : all) {
      if (e.event_id() == event_id) return &e;
    }
    return nullptr;
  }

  // The last event of type `type`, or nullptr.
  const Envelope* last(const std::string& type) const {
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->type() == type) return &*it;
    }
    return nullptr;
  }

  size_t count(const std::string& type) const {
    size_t n = 0;
    for (const auto& e : all) n += e.type() == type;
    return n;
  }

 private:
  static inline int next_command_ = 0;
};

// ---- Builders ----

inline wharf::v1::EnvironmentSpec environment(const std::string& name, bool auto_deploy = true,
                                              bool requires_approval = false,
                                              std::vector<std::string> suites = {}) {
  wharf::v1::EnvironmentSpec e;
  e.set_name(name);
  e.set_target(wharf::v1::TARGET_TYPE_LOCAL);
  (*e.mutable_settings())["port"] = name == "prod" ? "9002" : "9001";
  e.set_auto_deploy(auto_deploy);
  e.set_requires_approval(requires_approval);
  e.set_replicas(2);
  for (const auto& s : suites) {
    auto* t = e.add_post_deploy_tests();
    t->set_name(s);
    t->set_command("./check " + s);
    t->set_timeout_s(30);
  }
  return e;
}

// A Dubbo canary: 25 % (paused for a manual step), then 100 %.
inline wharf::v1::CanaryStrategy dubbo_strategy() {
  wharf::v1::CanaryStrategy s;
  s.set_mode("dubbo");
  auto* a = s.add_steps();
  a->set_weight(25);
  a->set_manual(true);
  s.add_steps()->set_weight(100);
  return s;
}

// A manual deploy of a Dubbo provider to shop's prod, as a canary or not.
inline RequestDeploy dubbo_prod_deploy(const std::string& run_id, const std::string& version,
                                       bool canary) {
  RequestDeploy r;
  r.project_id = "shop";
  r.environment = "prod";
  r.deploy_id = run_id + ".prod";
  r.run_id = run_id;
  r.spec.set_version(version);
  r.spec.set_artifact_digest(version);
  r.spec.set_start_command("./provider");
  if (canary) *r.spec.mutable_canary() = dubbo_strategy();
  return r;
}

inline CreateProject demo_project(const std::string& id = "shop",
                                  std::vector<wharf::v1::EnvironmentSpec> envs = {}) {
  CreateProject c;
  c.project_id = id;
  c.name = "Shop";
  c.repository.mutable_local_git()->set_path("/srv/git/shop");
  c.repository.mutable_local_git()->set_branch("main");
  c.environments = std::move(envs);
  c.pipeline.mutable_build()->set_command("make");
  c.pipeline.mutable_build()->set_artifact_path("out/app");
  c.pipeline.mutable_build()->set_timeout_s(600);
  c.pipeline.set_start_command("./app --port $PORT");
  c.pipeline.set_health_path("/healthz");
  c.pipeline.set_deploy_timeout_s(120);
  (*c.pipeline.mutable_config())["LOG_LEVEL"] = "info";
  return c;
}

inline ObserveCommit commit(const std::string& sha, const std::string& project = "shop",
                            const std::string& run_id = "") {
  ObserveCommit c;
  c.project_id = project;
  c.run_id = run_id;
  c.commit_sha = sha;
  c.branch = "main";
  c.source = "local";
  c.subject = "change " + sha;
  c.author.set_name("Ada");
  return c;
}

inline RecordBuildResult build_ok(const std::string& run_id, const std::string& digest,
                                  uint32_t attempt = 1) {
  RecordBuildResult r;
  r.run_id = run_id;
  r.attempt = attempt;
  r.succeeded = true;
  r.artifact_digest = digest;
  r.artifact_uri = "cas://" + digest;
  return r;
}

inline RecordBuildResult build_failed(const std::string& run_id, uint32_t attempt = 1) {
  RecordBuildResult r;
  r.run_id = run_id;
  r.attempt = attempt;
  r.succeeded = false;
  r.reason = "exit status 2";
  r.exit_code = 2;
  return r;
}

// ---- Process manager harness ----

// Folds `e` into `state` as the runtime does: a dropped run that `e` reopens
// (ProcessState::missing_history) gets its earlier events from the log first.
inline void fold_in(ProcessState& state, const Log& log, const Envelope& e) {
  if (std::string stream = state.missing_history(e); !stream.empty()) {
    const auto& events = log.streams.at(stream);
    state.restore_run(
        {events.begin(), events.begin() + static_cast<std::ptrdiff_t>(e.stream_version() - 1)});
  }
  state.apply(e);
}

// Runs the reactor over a Log as the runtime would: every appended event is
// folded into ProcessState and reacted to; IssueCommand reactions are decided
// and appended at once; work reactions are recorded for the test to inspect
// and answer (the fake ports).
class Harness {
 public:
  Log log;
  ProcessState state;
  std::vector<Reaction> work;         // Start*, ScheduleTimer, CancelWork, in order
  std::vector<Rejection> rejections;  // of issued commands

  Result command(const Command& c, const std::string& actor = "alice") {
    Result r = log.when(c, actor);
    pump();
    return r;
  }

  void pump() {
    while (applied_ < log.all.size()) {
      Envelope e = log.all[applied_++];
      fold_in(state, log, e);
      for (auto& r : react(state, e)) perform(std::move(r));
    }
  }

  void perform(Reaction r) {
    if (auto* issue = std::get_if<IssueCommand>(&r)) {
      EXPECT_EQ(issue->context.now_us, 0) << "the runtime stamps the time";
      issue->context.now_us = (log.now_us += 1000);
      Result res = log.execute(issue->command, issue->context);
      if (!res.has_value()) rejections.push_back(res.error());
      return;
    }
    work.push_back(std::move(r));
  }

  template <typename T>
  std::vector<T> all_of() const {
    std::vector<T> out;
    for (const auto& r : work) {
      if (const auto* t = std::get_if<T>(&r)) out.push_back(*t);
    }
    return out;
  }

  // Fires the timer with `key` (as the runtime would at its due time).
  Result fire(const std::string& key) {
    for (const auto& t : all_of<ScheduleTimer>()) {
      if (t.key == key) {
        Context ctx = t.context;
        ctx.now_us = t.due_us;
        Result r = log.execute(t.expire, ctx);
        pump();
        return r;
      }
    }
    ADD_FAILURE() << "no timer " << key;
    return unexpected(Rejection{Rejection::Code::kNotFound, "no timer"});
  }

  // Port answers.
  Result deploy_done(const DeployJob& job, bool ok = true, const std::string& url = "") {
    RecordDeployResult r;
    r.project_id = job.project_id;
    r.environment = job.environment;
    r.deploy_id = job.deploy_id;
    r.attempt = job.attempt;
    r.succeeded = ok;
    r.url = url.empty() ? "http://127.0.0.1:" + job.spec.target_settings().at("port") : url;
    r.reason = ok ? "" : "health check failed";
    return command(r, "system");
  }
  Result tests_done(const TestJob& job, bool ok = true) {
    RecordTestResult r;
    r.run_id = job.run_id;
    r.environment = job.environment;
    r.attempt = job.attempt;
    r.passed = ok;
    r.reason = ok ? "" : "smoke failed";
    return command(r, "system");
  }

 private:
  size_t applied_ = 0;
};

}  // namespace wharf::engine::testing
