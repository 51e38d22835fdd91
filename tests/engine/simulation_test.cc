// Randomised runs of the whole pipeline through the reactor with fake ports
// that answer late, fail, time out or get cancelled. After every action:
//   - no piece of work was ever started twice (same key);
//   - at most one deploy per environment is started and not yet finished;
//   - recover() on a fresh fold of the log asks for exactly the work that is
//     started and unfinished, and issues no command (nothing was forgotten).
#include <cstdlib>
#include <iostream>
#include <ostream>
#include <random>
#include <set>

#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

struct Key {
  std::string kind, id, environment;
  uint32_t attempt = 0;
  auto operator<=>(const Key&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Key& k) {
    return os << k.kind << " " << k.id << " " << k.environment << "#" << k.attempt;
  }
};

std::optional<Key> key_of(const Reaction& r) {
  if (const auto* b = std::get_if<StartBuild>(&r))
    return Key{"build", b->job.run_id, "", b->job.attempt};
  if (const auto* d = std::get_if<StartDeploy>(&r)) {
    return Key{"deploy", d->job.deploy_id, d->job.environment, d->job.attempt};
  }
  if (const auto* t = std::get_if<StartTests>(&r)) {
    return Key{"tests", t->job.run_id, t->job.environment, t->job.attempt};
  }
  return std::nullopt;
}

// The log says this work is over.
bool finished_in_log(const Log& log, const Key& k) {
  for (const auto& e : log.all) {
    const auto& p = e.payload();
    if (k.kind == "build") {
      if (p.has_build_succeeded() && p.build_succeeded().run_id() == k.id &&
          p.build_succeeded().attempt() == k.attempt)
        return true;
      if (p.has_build_failed() && p.build_failed().run_id() == k.id &&
          p.build_failed().attempt() == k.attempt)
        return true;
    } else if (k.kind == "deploy") {
      if (p.has_deploy_succeeded() && p.deploy_succeeded().deploy_id() == k.id &&
          p.deploy_succeeded().attempt() == k.attempt)
        return true;
      if (p.has_deploy_failed() && p.deploy_failed().deploy_id() == k.id &&
          p.deploy_failed().attempt() == k.attempt)
        return true;
    } else {
      if (p.has_tests_passed() && p.tests_passed().run_id() == k.id &&
          p.tests_passed().environment() == k.environment &&
          p.tests_passed().attempt() == k.attempt)
        return true;
      if (p.has_tests_failed() && p.tests_failed().run_id() == k.id &&
          p.tests_failed().environment() == k.environment &&
          p.tests_failed().attempt() == k.attempt)
        return true;
    }
  }
  return false;
}

class Simulation : public ::testing::TestWithParam<int> {};

TEST_P(Simulation, WorkIsStartedOnceSerialisedPerEnvironmentAndRecoverable) {
  std::mt19937 rng(static_cast<unsigned>(GetParam()));
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  auto coin = [&](int percent) { return static_cast<int>(pick(100)) < percent; };

  Harness h;
  ASSERT_TRUE(h.command(demo_project(
      "shop", {environment("staging", true, false, {"smoke"}), environment("prod", true, true)})));
  std::set<Key> started, cancelled;
  std::vector<Reaction> pending;  // Start* not answered yet
  std::vector<ScheduleTimer> timers;
  std::vector<std::string> runs;
  size_t seen = 0;

  auto absorb = [&] {
    for (; seen < h.work.size(); ++seen) {
      const Reaction& r = h.work[seen];
      if (auto k = key_of(r)) {
        ASSERT_TRUE(started.insert(*k).second) << "started twice: " << k->kind << " " << k->id;
        pending.push_back(r);
      } else if (const auto* t = std::get_if<ScheduleTimer>(&r)) {
        timers.push_back(*t);
      } else if (const auto* c = std::get_if<CancelWork>(&r)) {
        const char* kind = c->step == wharf::v1::STEP_KIND_BUILD    ? "build"
                           : c->step == wharf::v1::STEP_KIND_DEPLOY ? "deploy"
                                                                    : "tests";
        cancelled.insert(Key{
            kind, c->id, c->step == wharf::v1::STEP_KIND_BUILD ? "" : c->environment, c->attempt});
      }
    }
  };

  for (int step = 0; step < 160; ++step) {
    switch (pick(9)) {
      case 0:
        if (runs.size() < 8) {
          runs.push_back("r-" + std::to_string(runs.size() + 1));
          (void)h.command(commit("sha" + runs.back(), "shop", runs.back()));
        }
        break;
      case 1:
      case 2:
      case 3:
        if (!pending.empty()) {  // a port answers (maybe about work that is already over)
          size_t i = pick(pending.size());
          Reaction r = pending[i];
          pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
          bool ok = coin(75);
          if (const auto* b = std::get_if<StartBuild>(&r)) {
            (void)h.command(
                ok ? build_ok(b->job.run_id, "sha256:" + b->job.commit_sha, b->job.attempt)
                   : build_failed(b->job.run_id, b->job.attempt),
                "system");
          } else if (const auto* d = std::get_if<StartDeploy>(&r)) {
            (void)h.deploy_done(d->job, ok);
          } else if (const auto* t = std::get_if<StartTests>(&r)) {
            (void)h.tests_done(t->job, ok);
          }
        }
        break;
      case 4:
        if (!timers.empty()) (void)h.fire(timers[pick(timers.size())].key);
        break;
      case 5:
        if (!runs.empty() && coin(30)) (void)h.command(CancelRun{runs[pick(runs.size())], "sim"});
        break;
      case 6:
        if (!runs.empty()) (void)h.command(RetryStep{runs[pick(runs.size())], "sim"});
        break;
      case 7:
        if (!runs.empty()) (void)h.command(Approve{runs[pick(runs.size())], "prod", ""});
        break;
      case 8:
        if (const Envelope* ok = h.log.last("DeploySucceeded")) {
          RequestRollback rb;
          rb.project_id = "shop";
          rb.environment = ok->payload().deploy_succeeded().environment();
          rb.target_deploy_event_id = ok->event_id();
          (void)h.command(rb, "ops");
        }
        break;
    }
    absorb();
    if (HasFatalFailure()) return;

    // Unfinished = started, not over in the log, not cancelled by the engine.
    std::set<Key> unfinished;
    std::map<std::string, int> deploying;
    for (const auto& k : started) {
      if (cancelled.count(k) || finished_in_log(h.log, k)) continue;
      unfinished.insert(k);
      if (k.kind == "deploy") ++deploying[k.environment];
    }
    for (const auto& [env, n] : deploying) {
      ASSERT_LE(n, 1) << "two deploys at once in " << env << " at step " << step;
    }

    ProcessState restarted;
    for (const auto& e : h.log.all) fold_in(restarted, h.log, e);
    std::set<Key> recovered;
    for (const auto& r : recover(restarted)) {
      if (auto k = key_of(r)) {
        recovered.insert(*k);
      } else {
        ASSERT_FALSE(std::holds_alternative<IssueCommand>(r))
            << "recover issued " << command_name(std::get<IssueCommand>(r).command) << " at step "
            << step;
      }
    }
    ASSERT_EQ(recovered, unfinished) << "at step " << step;
  }
  for (const auto& r : h.rejections) {
    EXPECT_EQ(r.code, Rejection::Code::kStale) << r.reason;
  }
  // The walk reached the interesting places, not only the start.
  EXPECT_GT(h.log.all.size(), 10u);
  if (std::getenv("WHARF_SIM_STATS")) {
    std::cout << "started " << started.size() << " cancelled " << cancelled.size() << " events "
              << h.log.all.size() << " completed " << h.log.count("PipelineRunCompleted")
              << " cancelled runs " << h.log.count("PipelineRunCancelled") << " rollbacks "
              << h.log.count("RollbackRequested") << " timeouts " << h.log.count("StepTimedOut")
              << " prod deploys " << h.log.streams["env-shop-prod"].size() << "\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, Simulation, ::testing::Range(1, 41));

}  // namespace
}  // namespace wharf::engine::testing
