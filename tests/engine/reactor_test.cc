// The process manager: the work it asks the ports for, in order, exactly once.
#include <google/protobuf/util/message_differencer.h>

#include "engine/ids.h"
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::string kV1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const std::string kV2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

// "build r-1#1", "deploy r-1.staging#1 staging", "tests r-1 staging#1", "cancel build r-1#1".
std::string describe(const Reaction& r) {
  if (const auto* b = std::get_if<StartBuild>(&r)) {
    return "build " + b->job.run_id + "#" + std::to_string(b->job.attempt);
  }
  if (const auto* d = std::get_if<StartDeploy>(&r)) {
    return "deploy " + d->job.deploy_id + "#" + std::to_string(d->job.attempt);
  }
  if (const auto* t = std::get_if<StartTests>(&r)) {
    return "tests " + t->job.run_id + " " + t->job.environment + "#" +
           std::to_string(t->job.attempt);
  }
  if (const auto* c = std::get_if<CancelWork>(&r)) {
    const char* kind = c->step == wharf::v1::STEP_KIND_BUILD    ? "build"
                       : c->step == wharf::v1::STEP_KIND_DEPLOY ? "deploy"
                                                                : "tests";
    return std::string("cancel ") + kind + " " + c->id + "#" + std::to_string(c->attempt);
  }
  if (const auto* t = std::get_if<ScheduleTimer>(&r)) return "timer " + t->key;
  if (const auto* i = std::get_if<IssueCommand>(&r)) {
    return std::string("command ") + command_name(i->command);
  }
  return "?";
}

// Work only (no timers), as readable strings.
std::vector<std::string> work_of(const std::vector<Reaction>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) {
    if (!std::holds_alternative<ScheduleTimer>(r)) out.push_back(describe(r));
  }
  return out;
}

// The run as its stream says (the process manager drops a failed run from
// memory: engine/reactor.h).
RunState logged_run(Harness& h, const std::string& run_id) {
  return *fold(run_stream(run_id), h.log.streams[run_stream(run_id)]).run();
}

class Pipeline : public ::testing::Test {
 protected:
  // staging: auto-deploy + smoke tests; prod: approval gate.
  void SetUp() override {
    ASSERT_TRUE(h.command(demo_project("shop", {environment("staging", true, false, {"smoke"}),
                                                environment("prod", true, true)})));
  }
  StartDeploy last_deploy() { return h.all_of<StartDeploy>().back(); }
  StartTests last_tests() { return h.all_of<StartTests>().back(); }
  Result finish_build(const std::string& run_id, const std::string& digest, uint32_t attempt = 1) {
    return h.command(build_ok(run_id, digest, attempt), "system");
  }
  Harness h;
};

TEST_F(Pipeline, ProjectCreationGrantsTheOwnerRole) {
  ASSERT_EQ(h.log.count("PermissionGranted"), 1u);
  const auto& g = h.log.last("PermissionGranted")->payload().permission_granted();
  EXPECT_EQ(g.user(), "alice");
  EXPECT_EQ(g.role(), wharf::v1::ROLE_OWNER);
  EXPECT_EQ(h.log.last("PermissionGranted")->causation_id(),
            h.log.last("ProjectCreated")->event_id());
  EXPECT_THAT(h.rejections, IsEmpty());
}

TEST_F(Pipeline, ACommitGoesThroughStagingTestsApprovalAndProd) {
  ASSERT_TRUE(h.command(commit("c0ffee", "shop", "r-1")));
  EXPECT_THAT(work_of(h.work), ElementsAre("build r-1#1"));
  const auto builds = h.all_of<StartBuild>();
  EXPECT_EQ(builds[0].job.commit_sha, "c0ffee");
  EXPECT_EQ(builds[0].job.repository, "/srv/git/shop");
  EXPECT_EQ(builds[0].job.step.command(), "make");

  ASSERT_TRUE(finish_build("r-1", kV1));
  EXPECT_THAT(work_of(h.work), ElementsAre("build r-1#1", "deploy r-1.staging#1"));
  EXPECT_EQ(last_deploy().job.spec.artifact_digest(), kV1);
  EXPECT_EQ(last_deploy().job.run_id, "r-1");

  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  EXPECT_EQ(last_tests().job.target_url, "http://127.0.0.1:9001");
  ASSERT_TRUE(h.tests_done(last_tests().job));
  EXPECT_EQ(h.log.count("ApprovalRequired"), 1u);
  EXPECT_THAT(work_of(h.work),
              ElementsAre("build r-1#1", "deploy r-1.staging#1", "tests r-1 staging#1"));

  ASSERT_TRUE(h.command(Approve{"r-1", "prod", "go"}, "carol"));
  EXPECT_EQ(last_deploy().job.deploy_id, "r-1.prod");
  EXPECT_EQ(last_deploy().job.environment, "prod");
  ASSERT_TRUE(h.deploy_done(last_deploy().job));

  const auto* done = h.log.last("PipelineRunCompleted");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->payload().pipeline_run_completed().outcome(), wharf::v1::RUN_OUTCOME_SUCCEEDED);
  EXPECT_THAT(h.rejections, IsEmpty());
  // The run's story, on its own stream.
  EXPECT_THAT(
      types(h.log.streams["run-r-1"]),
      ElementsAre("CommitObserved", "PipelineRunStarted", "BuildRequested", "BuildSucceeded",
                  "VersionRecorded", "StageDeployRequested", "StageDeployFinished",
                  "TestsRequested", "TestsPassed", "ApprovalRequired", "ApprovalGranted",
                  "StageDeployRequested", "StageDeployFinished", "PipelineRunCompleted"));
  EXPECT_THAT(types(h.log.streams["env-shop-staging"]),
              ElementsAre("DeployRequested", "DeploySucceeded"));
  // Every event of the run carries its id as correlation.
  for (const auto& e : h.log.all) {
    if (e.stream_id() == "run-r-1" || e.stream_id() == "env-shop-prod") {
      EXPECT_EQ(e.correlation_id(), "r-1") << e.type();
    }
  }
}

TEST_F(Pipeline, TimersAreScheduledFromTheStepStart) {
  ASSERT_TRUE(h.command(commit("c0ffee", "shop", "r-1")));
  auto timers = h.all_of<ScheduleTimer>();
  ASSERT_THAT(timers, SizeIs(1));
  EXPECT_EQ(timers[0].key, "build/r-1/1");
  EXPECT_EQ(timers[0].due_us, h.log.last("BuildRequested")->occurred_at_us() + 600'000'000);
  EXPECT_EQ(timers[0].expire.timeout_s, 600u);
  ASSERT_TRUE(finish_build("r-1", kV1));
  timers = h.all_of<ScheduleTimer>();
  ASSERT_THAT(timers, SizeIs(2));
  EXPECT_EQ(timers[1].key, "deploy/r-1.staging/1");
  EXPECT_EQ(timers[1].due_us, h.log.last("DeployRequested")->occurred_at_us() + 120'000'000);
}

TEST_F(Pipeline, OneDeployAtATimePerEnvironmentInRequestOrder) {
  for (const char* r : {"r-1", "r-2", "r-3"}) ASSERT_TRUE(h.command(commit(r, "shop", r)));
  ASSERT_TRUE(finish_build("r-2", kV2));  // r-2 asks first
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(finish_build("r-3", kV1));
  // A manual deploy queues behind them too.
  RequestDeploy manual;
  manual.project_id = "shop";
  manual.environment = "staging";
  manual.deploy_id = "d-manual";
  manual.spec.set_artifact_digest(kV1);
  ASSERT_TRUE(h.command(manual, "bob"));

  auto deploys = [&] {
    std::vector<std::string> out;
    for (const auto& d : h.all_of<StartDeploy>()) out.push_back(d.job.deploy_id);
    return out;
  };
  EXPECT_THAT(deploys(), ElementsAre("r-2.staging"));
  ASSERT_TRUE(h.deploy_done(h.all_of<StartDeploy>().back().job));
  EXPECT_THAT(deploys(), ElementsAre("r-2.staging", "r-1.staging"));
  ASSERT_TRUE(h.deploy_done(h.all_of<StartDeploy>().back().job, false));  // failure frees it too
  EXPECT_THAT(deploys(), ElementsAre("r-2.staging", "r-1.staging", "r-3.staging"));
  ASSERT_TRUE(h.deploy_done(h.all_of<StartDeploy>().back().job));
  EXPECT_THAT(deploys(), ElementsAre("r-2.staging", "r-1.staging", "r-3.staging", "d-manual"));
  ASSERT_TRUE(h.deploy_done(h.all_of<StartDeploy>().back().job));
  EXPECT_THAT(deploys(), SizeIs(4));
  // r-1's failed deploy failed r-1; the others went on to their tests.
  EXPECT_EQ(logged_run(h, "r-1").status, RunStatus::kFailed);
  EXPECT_EQ(h.state.run("r-2")->step, RunStep::kTests);
  EXPECT_EQ(h.state.run("r-3")->step, RunStep::kTests);
  EXPECT_THAT(h.rejections, IsEmpty());
}

TEST_F(Pipeline, RetryAFailedBuildStartsTheNextAttemptOnly) {
  ASSERT_TRUE(h.command(commit("c0ffee", "shop", "r-1")));
  ASSERT_TRUE(h.command(build_failed("r-1"), "system"));
  EXPECT_EQ(logged_run(h, "r-1").status, RunStatus::kFailed);
  ASSERT_TRUE(h.command(RetryStep{"r-1", "flaky"}, "bob"));
  EXPECT_THAT(work_of(h.work), ElementsAre("build r-1#1", "build r-1#2"));
  ASSERT_TRUE(finish_build("r-1", kV1, 2));
  EXPECT_EQ(last_deploy().job.deploy_id, "r-1.staging");
}

TEST_F(Pipeline, RetryAFailedDeployQueuesAttemptTwo) {
  ASSERT_TRUE(h.command(commit("c0ffee", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(h.deploy_done(last_deploy().job, false));
  EXPECT_EQ(logged_run(h, "r-1").status, RunStatus::kFailed);
  ASSERT_TRUE(h.command(RetryStep{"r-1", ""}));
  EXPECT_EQ(last_deploy().job.attempt, 2u);
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  EXPECT_EQ(h.state.run("r-1")->step, RunStep::kTests);
}

TEST_F(Pipeline, BuildTimeoutFailsTheRunAndCancelsTheWork) {
  ASSERT_TRUE(h.command(commit("c0ffee", "shop", "r-1")));
  auto fired = h.fire("build/r-1/1");
  ASSERT_THAT(types(fired), ElementsAre("StepTimedOut", "BuildFailed", "PipelineRunCompleted"));
  EXPECT_THAT(work_of(h.work), ElementsAre("build r-1#1", "cancel build r-1#1"));
  // The runner's late answer is stale; nothing is appended.
  size_t before = h.log.all.size();
  auto late = h.command(build_ok("r-1", kV1), "system");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, Rejection::Code::kStale);
  EXPECT_EQ(h.log.all.size(), before);
}

TEST_F(Pipeline, AStaleTimerDoesNothing) {
  ASSERT_TRUE(h.command(commit("c0ffee", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  size_t before = h.log.all.size();
  auto fired = h.fire("build/r-1/1");
  ASSERT_TRUE(fired.has_value());
  EXPECT_THAT(fired.value(), IsEmpty());
  EXPECT_EQ(h.log.all.size(), before);
}

TEST_F(Pipeline, DeployTimeoutCancelsTheTargetStartsTheNextAndFailsTheRun) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(h.command(commit("b", "shop", "r-2")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(finish_build("r-2", kV2));
  auto fired = h.fire("deploy/r-1.staging/1");
  ASSERT_THAT(types(fired), ElementsAre("StepTimedOut", "DeployFailed"));
  EXPECT_THAT(work_of(h.work), ElementsAre("build r-1#1", "build r-2#1", "deploy r-1.staging#1",
                                           "cancel deploy r-1.staging#1", "deploy r-2.staging#1"));
  const auto* completed = h.log.last("PipelineRunCompleted");
  ASSERT_NE(completed, nullptr);
  EXPECT_EQ(completed->payload().pipeline_run_completed().reason(),
            "deploy to staging failed: timed out after 120s");
}

TEST_F(Pipeline, TestsTimeout) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  ASSERT_TRUE(h.fire("tests/r-1/staging/1"));
  EXPECT_EQ(work_of(h.work).back(), "cancel tests r-1#1");
  EXPECT_EQ(logged_run(h, "r-1").status, RunStatus::kFailed);
}

TEST_F(Pipeline, CancelDuringTheBuildCancelsTheBuild) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(h.command(CancelRun{"r-1", "oops"}, "bob"));
  EXPECT_THAT(work_of(h.work), ElementsAre("build r-1#1", "cancel build r-1#1"));
  auto late = h.command(build_ok("r-1", kV1), "system");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().reason, "run r-1 is cancelled; cannot record build result");
  ASSERT_TRUE(h.command(commit("b", "shop", "r-2")));
  EXPECT_EQ(h.state.run("r-1"), nullptr);  // dropped from memory one event later
  EXPECT_TRUE(h.state.run_cancelled("r-1"));
}

TEST_F(Pipeline, CancelDuringADeployStopsItAndFreesTheEnvironment) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(h.command(commit("b", "shop", "r-2")));
  ASSERT_TRUE(h.command(commit("c", "shop", "r-3")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(finish_build("r-2", kV2));
  ASSERT_TRUE(finish_build("r-3", kV2));
  ASSERT_TRUE(h.command(CancelRun{"r-2", ""}));  // queued, not in flight
  ASSERT_TRUE(h.command(CancelRun{"r-1", ""}));  // in flight
  EXPECT_THAT(work_of(h.work),
              ElementsAre("build r-1#1", "build r-2#1", "build r-3#1", "deploy r-1.staging#1",
                          "cancel deploy r-1.staging#1", "deploy r-3.staging#1"));
  const auto& env = *h.state.environment("shop", "staging");
  ASSERT_THAT(env.queue, SizeIs(1));
  EXPECT_EQ(env.in_flight()->deploy_id, "r-3.staging");
  // The target's late report for the cancelled deploy is stale.
  auto late = h.deploy_done(h.all_of<StartDeploy>()[0].job);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, Rejection::Code::kStale);
  EXPECT_THAT(h.rejections, IsEmpty());
}

TEST_F(Pipeline, CancelDuringTestsCancelsThem) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  ASSERT_TRUE(h.command(CancelRun{"r-1", ""}));
  EXPECT_EQ(work_of(h.work).back(), "cancel tests r-1#1");
}

TEST_F(Pipeline, RollbackReplaysTheFirstDeploySpecThroughTheTarget) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  Envelope first = *h.log.last("DeploySucceeded");
  ASSERT_TRUE(h.command(commit("b", "shop", "r-2")));
  ASSERT_TRUE(finish_build("r-2", kV2));
  ASSERT_TRUE(h.deploy_done(last_deploy().job));

  RequestRollback rb;
  rb.project_id = "shop";
  rb.environment = "staging";
  rb.target_deploy_event_id = first.event_id();
  rb.reason = "v2 broke checkout";
  ASSERT_TRUE(h.command(rb, "ops"));
  StartDeploy replay = last_deploy();
  EXPECT_TRUE(
      MessageDifferencer::Equals(replay.job.spec, first.payload().deploy_succeeded().spec()));
  EXPECT_EQ(replay.job.run_id, "");
  ASSERT_TRUE(h.deploy_done(replay.job));
  const auto* done = h.log.last("DeploySucceeded");
  EXPECT_EQ(done->payload().deploy_succeeded().rollback_id(),
            h.log.last("RollbackRequested")->payload().rollback_requested().rollback_id());
  EXPECT_EQ(done->payload().deploy_succeeded().spec().artifact_digest(), kV1);
  // Order in the environment's stream: ... RollbackRequested, DeployRequested, DeploySucceeded.
  auto env_types = types(h.log.streams["env-shop-staging"]);
  EXPECT_THAT(std::vector<std::string>(env_types.end() - 3, env_types.end()),
              ElementsAre("RollbackRequested", "DeployRequested", "DeploySucceeded"));
  EXPECT_THAT(h.rejections, IsEmpty());
}

// ---- Restart: fold the log again, recover() ----

ProcessState replay(const Log& log) {
  ProcessState s;
  for (const auto& e : log.all) fold_in(s, log, e);
  return s;
}

TEST_F(Pipeline, RecoverStartsExactlyTheOutstandingWork) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));  // will be mid-build
  ASSERT_TRUE(h.command(commit("b", "shop", "r-2")));  // will be mid-deploy (in flight)
  ASSERT_TRUE(h.command(commit("c", "shop", "r-3")));  // will be queued behind r-2
  ASSERT_TRUE(h.command(commit("d", "shop", "r-4")));  // will be done with staging, in tests
  ASSERT_TRUE(h.command(commit("e", "shop", "r-5")));  // will have failed
  ASSERT_TRUE(finish_build("r-4", kV1));
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  ASSERT_TRUE(finish_build("r-2", kV2));
  ASSERT_TRUE(finish_build("r-3", kV2));
  ASSERT_TRUE(h.command(build_failed("r-5"), "system"));

  ProcessState restarted = replay(h.log);
  auto recovered = recover(restarted);
  std::vector<std::string> got = work_of(recovered);
  std::sort(got.begin(), got.end());
  EXPECT_THAT(got, ElementsAre("build r-1#1", "deploy r-2.staging#1", "tests r-4 staging#1"));
  // Each comes with its timer, due from when the step began.
  std::vector<std::string> timers;
  for (const auto& r : recovered) {
    if (const auto* t = std::get_if<ScheduleTimer>(&r)) timers.push_back(t->key);
  }
  std::sort(timers.begin(), timers.end());
  EXPECT_THAT(timers, ElementsAre("build/r-1/1", "deploy/r-2.staging/1", "tests/r-4/staging/1"));
  // Recovering twice from the same log gives the same answer.
  EXPECT_EQ(work_of(recover(replay(h.log))), work_of(recovered));
}

TEST_F(Pipeline, NothingFinishedIsStartedAgainAfterReplay) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  ASSERT_TRUE(h.tests_done(last_tests().job));
  ASSERT_TRUE(h.command(Approve{"r-1", "prod", ""}));
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  EXPECT_THAT(work_of(recover(replay(h.log))), IsEmpty());
}

TEST_F(Pipeline, RecoverIssuesTheFollowUpCommandsACrashLost) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  // Crash 1: StageDeployRequested is in the log but the RequestDeploy was never decided.
  Log crashed = h.log;
  for (auto it = crashed.all.begin(); it != crashed.all.end();) {
    it = it->type() == "DeployRequested" ? crashed.all.erase(it) : it + 1;
  }
  auto rec = recover(replay(crashed));
  ASSERT_THAT(work_of(rec), ElementsAre("command RequestDeploy"));
  const auto& issue = std::get<IssueCommand>(rec[0]);
  // The recovered command has the id the live reaction used: its events dedupe in the store.
  EXPECT_EQ(issue.context.command_id, "request-deploy/r-1.staging/1");
  EXPECT_EQ(h.log.last("DeployRequested")->event_id(),
            derived_event_id(issue.context.command_id, 0));

  // Crash 2: DeploySucceeded is in the log but the run never heard of it.
  ASSERT_TRUE(h.deploy_done(last_deploy().job));
  Log crashed2 = h.log;
  while (crashed2.all.back().type() != "DeploySucceeded") crashed2.all.pop_back();
  auto rec2 = recover(replay(crashed2));
  ASSERT_THAT(work_of(rec2), ElementsAre("command RecordStageDeployResult"));
  const auto& stage = std::get<RecordStageDeployResult>(std::get<IssueCommand>(rec2[0]).command);
  EXPECT_TRUE(stage.succeeded);
  EXPECT_EQ(stage.deploy_event_id, h.log.last("DeploySucceeded")->event_id());
}

TEST_F(Pipeline, RecoverRemovesDeploysOfRunsCancelledBeforeTheCrash) {
  ASSERT_TRUE(h.command(commit("a", "shop", "r-1")));
  ASSERT_TRUE(finish_build("r-1", kV1));
  // Cancel r-1, then "crash" before the CancelDeploy reaction ran.
  ASSERT_TRUE(h.log.when(CancelRun{"r-1", ""}));
  auto rec = recover(replay(h.log));
  EXPECT_THAT(work_of(rec), ElementsAre("command CancelDeploy"));
}

TEST_F(Pipeline, RecoverGrantsALostOwnerRoleButNeverARevokedOne) {
  Log fresh;
  ASSERT_TRUE(fresh.when(demo_project("lone")));
  EXPECT_THAT(work_of(recover(replay(fresh))), ElementsAre("command GrantPermission"));
  // h's owner was granted by the reactor; revoking it must not bring it back.
  ASSERT_TRUE(h.command(RevokePermission{"shop", "alice", wharf::v1::ROLE_OWNER, "left"}));
  EXPECT_THAT(work_of(recover(replay(h.log))), IsEmpty());
}

}  // namespace
}  // namespace wharf::engine::testing
