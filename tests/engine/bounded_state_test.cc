// The process manager's state is bounded (engine/reactor.h ProcessState):
// per environment it keeps the latest successful deploy, the finished deploy
// attempts a live run still awaits, the after-deploy request of the latest
// deploy and the canaries that still matter — not every deploy ever made.
// Given a long history, when wharf restarts (or a snapshot is restored), then
// it reacts and recovers exactly as a fold that kept everything would: the
// cases those dropped sets protected.

#include <algorithm>

#include "engine/process_snapshot.h"
#include "events/hash_chain.h"
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kV1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

// The state's snapshot bytes (maps in a fixed order).
std::string bytes_of(const ProcessState& state) {
  return events::serialize_deterministic(to_snapshot(state));
}

ProcessState replay(const Log& log, size_t count) {
  ProcessState s;
  for (size_t i = 0; i < count; ++i) fold_in(s, log, log.all[i]);
  return s;
}
ProcessState replay(const Log& log) {
  return replay(log, log.all.size());
}

// One line per reaction, with the ids that make it distinct.
std::vector<std::string> describe(const std::vector<Reaction>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) {
    if (const auto* b = std::get_if<StartBuild>(&r)) {
      out.push_back("build " + b->job.run_id + "#" + std::to_string(b->job.attempt));
    } else if (const auto* d = std::get_if<StartDeploy>(&r)) {
      out.push_back("deploy " + d->job.deploy_id + "#" + std::to_string(d->job.attempt));
    } else if (const auto* t = std::get_if<StartTests>(&r)) {
      out.push_back("tests " + t->job.run_id + " " + t->job.environment);
    } else if (const auto* c = std::get_if<StartTestCases>(&r)) {
      out.push_back("test cases " + c->job.run_id);
    } else if (const auto* x = std::get_if<ScheduleTimer>(&r)) {
      out.push_back("timer " + x->key);
    } else if (const auto* w = std::get_if<CancelWork>(&r)) {
      out.push_back("cancel " + w->id + "#" + std::to_string(w->attempt));
    } else if (const auto* s = std::get_if<SetCanaryTraffic>(&r)) {
      out.push_back("canary " + s->traffic.canary_id + " phase " +
                    std::to_string(static_cast<int>(s->traffic.phase)) + " weight " +
                    std::to_string(s->traffic.weight));
    } else if (const auto* i = std::get_if<IssueCommand>(&r)) {
      out.push_back(std::string("command ") + command_name(i->command) + " " +
                    i->context.command_id);
    }
  }
  return out;
}

std::vector<std::string> commands_of(const std::vector<Reaction>& rs) {
  std::vector<std::string> out;
  for (const auto& line : describe(rs)) {
    if (line.rfind("command ", 0) == 0) out.push_back(line);
  }
  return out;
}

// A snapshot of the state at every position P, restored and given the events
// after P, reacts to each of them and recovers like the fold of the whole log.
void expect_snapshot_plus_tail_is_the_whole_fold(const Log& log) {
  const auto& all = log.all;
  for (size_t cut = 1; cut <= all.size(); ++cut) {
    ProcessState whole = replay(log, cut);
    auto message = to_snapshot(whole);
    ProcessState restored;
    ASSERT_TRUE(from_snapshot(std::move(message), restored));
    for (size_t i = cut; i < all.size(); ++i) {
      fold_in(whole, log, all[i]);
      fold_in(restored, log, all[i]);
      ASSERT_EQ(describe(react(restored, all[i])), describe(react(whole, all[i])))
          << "snapshot at " << cut << ", event " << i + 1 << " " << all[i].type();
    }
    ASSERT_EQ(bytes_of(restored), bytes_of(whole)) << "snapshot at " << cut;
    // recover() walks hash maps: the same reactions, in any order.
    auto recovered = describe(recover(restored)), expected = describe(recover(whole));
    std::sort(recovered.begin(), recovered.end());
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(recovered, expected) << "snapshot at " << cut;
  }
}

RequestDeploy manual(const std::string& env, const std::string& digest) {
  RequestDeploy r;
  r.project_id = "shop";
  r.environment = env;
  r.spec.set_version(digest);
  r.spec.set_artifact_digest(digest);
  r.spec.set_artifact_uri("cas://" + digest);
  return r;
}

RecordDeployResult result_of(const std::string& env, const std::string& deploy_id, bool ok) {
  RecordDeployResult r;
  r.project_id = "shop";
  r.environment = env;
  r.deploy_id = deploy_id;
  r.attempt = 1;
  r.succeeded = ok;
  r.url = ok ? "http://127.0.0.1:9001" : "";
  r.reason = ok ? "" : "health check failed";
  return r;
}

// A manual deploy to `env`, decided and ended in the log (no reactions).
void manual_deploy(Log& log, const std::string& env, const std::string& digest, bool ok) {
  auto requested = log.when(manual(env, digest), "dora");
  ASSERT_TRUE(requested.has_value()) << requested.error().reason;
  const std::string id = requested->at(0).payload().deploy_requested().deploy_id();
  ASSERT_TRUE(log.when(result_of(env, id, ok), "system"));
}

class LongHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.command(demo_project("shop", {environment("staging", true, false, {"smoke"}),
                                                environment("prod", true, true)})));
  }
  Harness h;
};

// The case `finished` kept every deploy for: the run hears of its deploy's
// end only after a restart, and many deploys ran in that environment since.
TEST_F(LongHistory, ARunWhoseDeployFinishedLongAgoRecordsThatResultAfterARestart) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(h.command(build_ok("r-1", kV1), "system"));
  const DeployJob job = h.all_of<StartDeploy>().back().job;
  ASSERT_EQ(job.deploy_id, "r-1.staging");
  // The deploy ends; wharf stops before the run hears of it.
  auto done = h.log.when(result_of("staging", job.deploy_id, true), "system");
  ASSERT_TRUE(done);
  const std::string done_id = done->at(0).event_id();
  // Meanwhile 60 other deploys end in staging (a third of them failed).
  for (int i = 0; i < 60; ++i) manual_deploy(h.log, "staging", kV1, i % 3 != 0);

  ProcessState restarted = replay(h.log);
  auto recovered = recover(restarted);
  ASSERT_THAT(commands_of(recovered),
              ElementsAre("command RecordStageDeployResult stage-result/r-1.staging/1"));
  for (const auto& r : recovered) {
    if (const auto* i = std::get_if<IssueCommand>(&r)) {
      const auto& stage = std::get<RecordStageDeployResult>(i->command);
      EXPECT_TRUE(stage.succeeded);
      EXPECT_EQ(stage.deploy_event_id, done_id);
    }
  }
  // A late, duplicate delivery of the run's StageDeployRequested asks for no
  // second deploy: the attempt is known to have finished.
  const Envelope* asked = h.log.last("StageDeployRequested");
  ASSERT_NE(asked, nullptr);
  EXPECT_THAT(commands_of(react(restarted, *asked)), IsEmpty());

  // Bounded: the finished attempt the run awaits and the latest success only.
  const EnvironmentState* env = restarted.environment("shop", "staging");
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->finished.size(), 1u);
  EXPECT_EQ(env->finished.count(deploy_key("r-1.staging", 1)), 1u);
  ASSERT_EQ(env->succeeded.size(), 1u);
  EXPECT_EQ(env->succeeded.back().event_id, h.log.last("DeploySucceeded")->event_id());

  // Once the run recorded it, the attempt leaves the state at the next deploy end.
  for (const auto& r : recovered) {
    if (const auto* i = std::get_if<IssueCommand>(&r)) {
      ASSERT_TRUE(h.log.when(i->command, "system"));
    }
  }
  manual_deploy(h.log, "staging", kV1, true);
  EXPECT_THAT(replay(h.log).environment("shop", "staging")->finished, IsEmpty());
  expect_snapshot_plus_tail_is_the_whole_fold(h.log);
}

// A failed run is dropped (most are never retried); a retry long after
// reopens it from its stream and its build starts again, live and after a
// restart.
TEST_F(LongHistory, AFailedRunRetriedLongAfterIsRestoredAndBuildsAgain) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(h.command(build_failed("r-1"), "system"));
  ASSERT_TRUE(h.command(commit("b", "shop", "r-2")));
  ASSERT_TRUE(h.command(build_ok("r-2", kV1), "system"));
  ASSERT_TRUE(h.deploy_done(h.all_of<StartDeploy>().back().job));
  EXPECT_EQ(h.state.run("r-1"), nullptr);
  for (int i = 0; i < 30; ++i) manual_deploy(h.log, "staging", kV1, true);
  h.pump();
  EXPECT_EQ(replay(h.log).run("r-1"), nullptr);

  ASSERT_TRUE(h.command(RetryStep{"r-1", "flaky"}, "bob"));
  const auto builds = h.all_of<StartBuild>();
  ASSERT_FALSE(builds.empty());
  EXPECT_EQ(builds.back().job.run_id, "r-1");
  EXPECT_EQ(builds.back().job.attempt, 2u);
  EXPECT_EQ(builds.back().job.commit_sha, "a");  // from the restored run, not a blank one
  ASSERT_NE(h.state.run("r-1"), nullptr);
  EXPECT_EQ(h.state.run("r-1")->project_id, "shop");
  // After a restart the retried build is outstanding work again.
  auto recovered = describe(recover(replay(h.log)));
  EXPECT_NE(std::find(recovered.begin(), recovered.end(), "build r-1#2"), recovered.end());
  // Without its history the event is ignored, never folded into a blank run.
  ProcessState blind;
  for (const auto& e : h.log.all) blind.apply(e);
  EXPECT_EQ(blind.run("r-1"), nullptr);
  expect_snapshot_plus_tail_is_the_whole_fold(h.log);
}

TEST_F(LongHistory, AfterDeployTestCasesAreAskedOncePerDeployAcrossRestarts) {
  Harness cases;
  auto staging = environment("staging");
  auto* smoke = staging.add_test_cases();
  smoke->set_name("smoke");
  smoke->set_command("./cases/smoke");
  smoke->set_timeout_s(60);
  staging.add_after_deploy_test_cases("smoke");
  ASSERT_TRUE(cases.command(demo_project("shop", {staging})));
  // 40 deploys, each followed by its after-deploy test cases, answered.
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(cases.command(manual("staging", kV1), "dora"));
    ASSERT_TRUE(cases.deploy_done(cases.all_of<StartDeploy>().back().job));
    const auto jobs = cases.all_of<StartTestCases>();
    ASSERT_EQ(jobs.size(), static_cast<size_t>(i + 1));
    RecordTestCaseResults passed;
    passed.project_id = "shop";
    passed.environment = "staging";
    passed.test_run_id = jobs.back().job.run_id;
    passed.passed = true;
    ASSERT_TRUE(cases.command(passed, "system"));
  }
  // Then a deploy that fails: the latest success stays the one served.
  ASSERT_TRUE(cases.command(manual("staging", kV1), "dora"));
  ASSERT_TRUE(cases.deploy_done(cases.all_of<StartDeploy>().back().job, false));
  ASSERT_EQ(cases.log.count("DeployFailed"), 1u);
  ASSERT_EQ(cases.log.count("TestCasesRequested"), 40u);
  ASSERT_THAT(cases.rejections, IsEmpty());
  // A restart asks for none again and starts none.
  ProcessState restarted = replay(cases.log);
  EXPECT_THAT(describe(recover(restarted)), IsEmpty());
  const EnvironmentState* env = restarted.environment("shop", "staging");
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->maintenance.after_deploy_requested.size(), 1u);
  EXPECT_THAT(env->maintenance.finished_test_cases, IsEmpty());
  EXPECT_EQ(env->succeeded.size(), 1u);
  EXPECT_THAT(env->finished, IsEmpty());

  // The next deploy ends and wharf stops before asking: the restart asks
  // once, for that deploy.
  ASSERT_TRUE(cases.command(manual("staging", kV1), "dora"));
  auto done = cases.log.when(
      result_of("staging", cases.all_of<StartDeploy>().back().job.deploy_id, true), "system");
  ASSERT_TRUE(done);
  auto recovered = recover(replay(cases.log));
  ASSERT_THAT(commands_of(recovered),
              ElementsAre("command RequestTestCases test-cases/" + done->at(0).event_id()));
  expect_snapshot_plus_tail_is_the_whole_fold(cases.log);
}

void deployed_to_prod(Log& log, const std::string& run_id, bool canary) {
  ASSERT_TRUE(log.when(dubbo_prod_deploy(run_id, "v-" + run_id, canary)));
  RecordDeployResult ok = result_of("prod", run_id + ".prod", true);
  ASSERT_TRUE(log.when(ok, "system"));
}

// The case canary `finished` kept every canary for: the Dubbo rule of a
// canary promoted long ago outlived wharf, and many deploys and canaries
// (aborted, without rules) came after it.
TEST(LongCanaryHistory, ARuleOfACanaryPromotedLongAgoIsFinishedAsAPromotion) {
  Log log;
  deployed_to_prod(log, "r-1", false);
  deployed_to_prod(log, "r-2", true);
  const std::string promoted = canary_id_of("r-2.prod", 1);
  RecordDubboRule written{"shop", "prod", {}};
  auto* w = written.rule.mutable_dubbo_rule_written();
  w->set_canary_id(promoted);
  w->set_path("/dubbo/config/dubbo/demo.Greeter::.configurators");
  w->set_kind("configurators");
  w->set_yaml("weight: 25\n");
  w->set_znode_version(3);
  ASSERT_TRUE(log.when(written));
  ASSERT_TRUE(log.when(PromoteCanary{"shop", "prod", "", true}));
  // Years of deploys since, and canaries that were aborted.
  for (int i = 3; i < 40; ++i) {
    const std::string run = "r-" + std::to_string(i);
    deployed_to_prod(log, run, i % 5 == 0);
    if (i % 5 == 0) {
      AbortCanary abort;
      abort.project_id = "shop";
      abort.environment = "prod";
      abort.reason = "errors";
      ASSERT_TRUE(log.when(abort));
    }
  }
  ASSERT_EQ(log.count("CanaryAborted"), 7u);

  ProcessState restarted = replay(log);
  auto recovered = recover(restarted);
  ASSERT_EQ(recovered.size(), 1u);
  const auto& traffic = std::get<SetCanaryTraffic>(recovered[0]).traffic;
  EXPECT_EQ(traffic.canary_id, promoted);
  EXPECT_EQ(traffic.phase, CanaryTraffic::Phase::kPromoted);
  // Bounded: the canary that owns the rule and the one that ended last.
  const CanaryState& c = restarted.environment("shop", "prod")->canary;
  EXPECT_EQ(c.finished.size(), 2u);
  EXPECT_EQ(c.finished.at(promoted), "promoted");
  EXPECT_EQ(c.finished.at(canary_id_of("r-35.prod", 1)), "aborted");
  expect_snapshot_plus_tail_is_the_whole_fold(log);
}

Envelope cancelled(uint64_t position, const std::string& run_id) {
  Envelope e;
  e.set_position(position);
  e.set_stream_id(run_stream(run_id));
  e.set_stream_version(1);
  e.set_type("PipelineRunCancelled");
  e.mutable_payload()->mutable_pipeline_run_cancelled()->set_run_id(run_id);
  return e;
}

TEST(CancelledRuns, TheLatestTenThousandAreRememberedInOrderAcrossASnapshot) {
  ProcessState s;
  const uint64_t n = kCancelledRunsKept + 5;
  for (uint64_t i = 1; i <= n; ++i) s.apply(cancelled(i, "c" + std::to_string(i)));
  EXPECT_FALSE(s.run_cancelled("c1"));
  EXPECT_FALSE(s.run_cancelled("c5"));
  EXPECT_TRUE(s.run_cancelled("c6"));
  EXPECT_TRUE(s.run_cancelled("c" + std::to_string(n)));
  EXPECT_LE(s.runs().size(), 1u);  // the last one, dropped at the next event

  ProcessState restored;
  ASSERT_TRUE(from_snapshot(to_snapshot(s), restored));
  restored.apply(cancelled(n + 1, "c" + std::to_string(n + 1)));
  EXPECT_FALSE(restored.run_cancelled("c6"));  // the oldest goes first
  EXPECT_TRUE(restored.run_cancelled("c7"));
  EXPECT_TRUE(restored.run_cancelled("c" + std::to_string(n + 1)));
}

}  // namespace
}  // namespace wharf::engine::testing
