// PipelineRun decider: every transition of a run and its rejections.
#include <google/protobuf/util/message_differencer.h>

#include "engine/ids.h"
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDigest1[] = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

// Given a project (staging with tests, prod behind approval) and run r-1 observed.
class RunDecider : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(log.when(demo_project(
        "shop", {environment("staging", true, false, {"smoke"}), environment("prod", true, true)})));
    ASSERT_TRUE(log.when(commit("c0ffee", "shop", "r-1")));
  }
  RunState run() { return *fold("run-r-1", log.streams["run-r-1"]).run(); }
  RecordStageDeployResult stage_result(const std::string& env, bool ok, uint32_t attempt = 1) {
    RecordStageDeployResult r;
    r.run_id = "r-1";
    r.environment = env;
    r.deploy_id = stage_deploy_id("r-1", env);
    r.attempt = attempt;
    r.succeeded = ok;
    r.url = ok ? "http://127.0.0.1:9001" : "";
    r.reason = ok ? "" : "unhealthy";
    r.deploy_event_id = "ev-" + env;
    return r;
  }
  RecordTestResult tests(const std::string& env, bool ok, uint32_t attempt = 1) {
    RecordTestResult r;
    r.run_id = "r-1";
    r.environment = env;
    r.attempt = attempt;
    r.passed = ok;
    r.reason = ok ? "" : "smoke: 500";
    return r;
  }
  Log log;
};

TEST_F(RunDecider, ObserveCommitStartsTheRunAndRequestsTheBuildInOneAppend) {
  const auto& run_events = log.streams["run-r-1"];
  ASSERT_THAT(types(run_events), ElementsAre("CommitObserved", "PipelineRunStarted", "BuildRequested"));
  const auto& started = run_events[1].payload().pipeline_run_started();
  EXPECT_THAT(std::vector<std::string>(started.environments().begin(), started.environments().end()),
              ElementsAre("staging", "prod"));
  EXPECT_EQ(started.stages(0).post_deploy_tests(0).name(), "smoke");
  EXPECT_EQ(started.template_().health_path(), "/healthz");
  const auto& build = run_events[2].payload().build_requested();
  EXPECT_EQ(build.attempt(), 1u);
  EXPECT_EQ(build.repository(), "/srv/git/shop");
  EXPECT_EQ(build.step().command(), "make");
  EXPECT_EQ(run_events[2].causation_id(), run_events[0].event_id());
  EXPECT_EQ(run().status, RunStatus::kRunning);
  EXPECT_EQ(run().step, RunStep::kBuild);
}

TEST_F(RunDecider, ObservingTheSameCommitAgainIsANoOpAndIdsDeriveFromTheDedupKey) {
  ObserveCommit a = commit("abc123");
  a.dedup_key = "gerrit:patchset-created:42/1";
  ObserveCommit b = a;  // redelivered, no run id given
  EXPECT_EQ(stream_of(a), stream_of(b));
  Log other;
  ASSERT_TRUE(other.when(demo_project()));
  auto first = log.when(a);
  auto second_elsewhere = other.when(b);  // a different log, a different command id
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second_elsewhere.has_value());
  EXPECT_EQ(first->at(0).event_id(), second_elsewhere->at(0).event_id());
  EXPECT_NE(first->at(1).event_id(), second_elsewhere->at(1).event_id());
  EXPECT_THAT(types(log.when(b)), ElementsAre());
}

TEST_F(RunDecider, ObserveCommitRejections) {
  auto unknown = log.when(commit("abc", "nope"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().reason, "project nope does not exist");
  ObserveCommit other_branch = commit("abc");
  other_branch.branch = "feature";
  auto b = log.when(other_branch);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().reason, "branch feature is not watched by project shop");
}

TEST_F(RunDecider, BuildProgressIsRecordedOnce) {
  RecordBuildProgress p{"r-1", 1, RecordBuildProgress::Kind::kQueued, "job-7", "", ""};
  EXPECT_THAT(types(log.when(p)), ElementsAre("BuildQueued"));
  EXPECT_THAT(types(log.when(p)), ElementsAre());
  p.kind = RecordBuildProgress::Kind::kStarted;
  p.log_ref = "logs/r-1/build-1.log";
  EXPECT_THAT(types(log.when(p)), ElementsAre("BuildStarted"));
  EXPECT_THAT(types(log.when(p)), ElementsAre());
  p.kind = RecordBuildProgress::Kind::kProgress;
  EXPECT_THAT(types(log.when(p)), ElementsAre());
  EXPECT_EQ(run().phase, StepPhase::kStarted);
}

TEST_F(RunDecider, BuildSuccessRecordsTheVersionAndRequestsTheFirstStage) {
  auto r = log.when(build_ok("r-1", kDigest1));
  ASSERT_THAT(types(r), ElementsAre("BuildSucceeded", "VersionRecorded", "StageDeployRequested"));
  const auto& v = r->at(1).payload().version_recorded();
  EXPECT_EQ(v.version(), kDigest1);
  EXPECT_EQ(v.commit_sha(), "c0ffee");
  EXPECT_EQ(v.author().name(), "Ada");
  const auto& d = r->at(2).payload().stage_deploy_requested();
  EXPECT_EQ(d.environment(), "staging");
  EXPECT_EQ(d.deploy_id(), "r-1.staging");
  EXPECT_EQ(d.attempt(), 1u);
  EXPECT_EQ(d.spec().artifact_digest(), kDigest1);
  EXPECT_EQ(d.spec().start_command(), "./app --port $PORT");
  EXPECT_EQ(d.spec().health_path(), "/healthz");
  EXPECT_EQ(d.spec().replicas(), 2u);
  EXPECT_EQ(d.spec().config().at("LOG_LEVEL"), "info");
  EXPECT_EQ(d.spec().target_settings().at("port"), "9001");
  EXPECT_EQ(run().step, RunStep::kDeploy);
  EXPECT_EQ(run().environment(), "staging");
}

TEST_F(RunDecider, ASuccessfulBuildNeedsADigest) {
  RecordBuildResult r = build_ok("r-1", "");
  auto res = log.when(r);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, Rejection::Code::kInvalidArgument);
}

TEST_F(RunDecider, BuildFailureCompletesTheRunAsFailed) {
  auto r = log.when(build_failed("r-1"));
  ASSERT_THAT(types(r), ElementsAre("BuildFailed", "PipelineRunCompleted"));
  EXPECT_EQ(r->at(1).payload().pipeline_run_completed().outcome(), wharf::v1::RUN_OUTCOME_FAILED);
  EXPECT_EQ(r->at(1).payload().pipeline_run_completed().reason(), "build failed: exit status 2");
  EXPECT_EQ(run().status, RunStatus::kFailed);
}

TEST_F(RunDecider, ResultsForAnotherAttemptOrAFinishedStepAreStale) {
  auto wrong = log.when(build_ok("r-1", kDigest1, 2));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Rejection::Code::kStale);
  EXPECT_EQ(wrong.error().reason,
            "run r-1 is building (attempt 1); cannot record build result for attempt 2");
  ASSERT_TRUE(log.when(build_failed("r-1")));
  auto late = log.when(build_ok("r-1", kDigest1));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, Rejection::Code::kStale);
  EXPECT_THAT(late.error().reason, HasSubstr("already finished"));
}

TEST_F(RunDecider, ACancelledRunRefusesResults) {
  ASSERT_THAT(types(log.when(CancelRun{"r-1", "wrong commit"}, "bob")),
              ElementsAre("PipelineRunCancelled"));
  EXPECT_EQ(log.last("PipelineRunCancelled")->payload().pipeline_run_cancelled().cancelled_by(),
            "bob");
  auto r = log.when(build_ok("r-1", kDigest1));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason, "run r-1 is cancelled; cannot record build result");
  auto again = log.when(CancelRun{"r-1", ""});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().reason, "run r-1 is cancelled; nothing to cancel");
  auto retry = log.when(RetryStep{"r-1", ""});
  ASSERT_FALSE(retry.has_value());
  EXPECT_EQ(retry.error().code, Rejection::Code::kInvalidTransition);
}

TEST_F(RunDecider, UnknownRunIsNotFound) {
  auto r = log.when(CancelRun{"r-404", ""});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Rejection::Code::kNotFound);
  EXPECT_EQ(r.error().reason, "run r-404 does not exist");
}

TEST_F(RunDecider, RetryAFailedBuildWithTheNextAttempt) {
  auto running = log.when(RetryStep{"r-1", ""});
  ASSERT_FALSE(running.has_value());
  EXPECT_EQ(running.error().reason,
            "run r-1 is building (attempt 1); only a failed step can be retried");
  ASSERT_TRUE(log.when(build_failed("r-1")));
  auto r = log.when(RequestBuild{"r-1", "flaky"});
  ASSERT_THAT(types(r), ElementsAre("BuildRequested"));
  EXPECT_EQ(r->at(0).payload().build_requested().attempt(), 2u);
  EXPECT_EQ(run().status, RunStatus::kRunning);
  EXPECT_THAT(types(log.when(build_ok("r-1", kDigest1, 2))),
              ElementsAre("BuildSucceeded", "VersionRecorded", "StageDeployRequested"));
}

TEST_F(RunDecider, StageDeployedWithTestsRequestsThemAgainstTheUrl) {
  ASSERT_TRUE(log.when(build_ok("r-1", kDigest1)));
  auto r = log.when(stage_result("staging", true));
  ASSERT_THAT(types(r), ElementsAre("StageDeployFinished", "TestsRequested"));
  const auto& t = r->at(1).payload().tests_requested();
  EXPECT_EQ(t.target_url(), "http://127.0.0.1:9001");
  EXPECT_EQ(t.suites(0).name(), "smoke");
  EXPECT_EQ(t.attempt(), 1u);
}

TEST_F(RunDecider, TestsPassedLeadsToTheApprovalGateThenApproveDeploysProd) {
  ASSERT_TRUE(log.when(build_ok("r-1", kDigest1)));
  ASSERT_TRUE(log.when(stage_result("staging", true)));
  auto early = log.when(Approve{"r-1", "prod", ""});
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().reason,
            "run r-1 is testing in staging (attempt 1); it is not waiting for approval before prod");
  ASSERT_THAT(types(log.when(tests("staging", true))),
              ElementsAre("TestsPassed", "ApprovalRequired"));
  EXPECT_EQ(run().status, RunStatus::kAwaitingApproval);
  auto wrong_env = log.when(Approve{"r-1", "staging", ""});
  ASSERT_FALSE(wrong_env.has_value());
  auto r = log.when(Approve{"r-1", "prod", "ship it"}, "carol");
  ASSERT_THAT(types(r), ElementsAre("ApprovalGranted", "StageDeployRequested"));
  EXPECT_EQ(r->at(0).payload().approval_granted().approved_by(), "carol");
  EXPECT_EQ(r->at(1).payload().stage_deploy_requested().spec().target_settings().at("port"),
            "9002");
  ASSERT_THAT(types(log.when(stage_result("prod", true))),
              ElementsAre("StageDeployFinished", "PipelineRunCompleted"));
  EXPECT_EQ(run().status, RunStatus::kSucceeded);
  auto cancel = log.when(CancelRun{"r-1", ""});
  ASSERT_FALSE(cancel.has_value());
  EXPECT_EQ(cancel.error().reason, "run r-1 is succeeded; nothing to cancel");
}

TEST_F(RunDecider, FailedDeployFailsTheRunAndRetryRequestsTheNextAttempt) {
  ASSERT_TRUE(log.when(build_ok("r-1", kDigest1)));
  auto r = log.when(stage_result("staging", false));
  ASSERT_THAT(types(r), ElementsAre("StageDeployFinished", "PipelineRunCompleted"));
  EXPECT_EQ(r->at(1).payload().pipeline_run_completed().reason(),
            "deploy to staging failed: unhealthy");
  auto retry = log.when(RetryStep{"r-1", ""});
  ASSERT_THAT(types(retry), ElementsAre("StageDeployRequested"));
  const auto& d = retry->at(0).payload().stage_deploy_requested();
  EXPECT_EQ(d.attempt(), 2u);
  EXPECT_EQ(d.deploy_id(), "r-1.staging");
  auto stale = log.when(stage_result("staging", true, 1));
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, Rejection::Code::kStale);
  EXPECT_THAT(types(log.when(stage_result("staging", true, 2))),
              ElementsAre("StageDeployFinished", "TestsRequested"));
}

TEST_F(RunDecider, FailedTestsFailTheRunAndRunTestsRetriesThem) {
  ASSERT_TRUE(log.when(build_ok("r-1", kDigest1)));
  ASSERT_TRUE(log.when(stage_result("staging", true)));
  auto not_yet = log.when(RunTests{"r-1", "staging", ""});
  ASSERT_FALSE(not_yet.has_value());
  EXPECT_EQ(not_yet.error().code, Rejection::Code::kInvalidTransition);
  ASSERT_THAT(types(log.when(tests("staging", false))),
              ElementsAre("TestsFailed", "PipelineRunCompleted"));
  auto no_suites = log.when(RunTests{"r-1", "prod", ""});
  ASSERT_FALSE(no_suites.has_value());
  EXPECT_EQ(no_suites.error().reason, "environment prod has no post-deploy tests");
  auto r = log.when(RunTests{"r-1", "staging", "flaky network"});
  ASSERT_THAT(types(r), ElementsAre("TestsRequested"));
  EXPECT_EQ(r->at(0).payload().tests_requested().attempt(), 2u);
  EXPECT_EQ(r->at(0).payload().tests_requested().target_url(), "http://127.0.0.1:9001");
  EXPECT_THAT(types(log.when(tests("staging", true, 2))),
              ElementsAre("TestsPassed", "ApprovalRequired"));
}

TEST_F(RunDecider, BuildTimerExpiresOnlyWhileTheBuildIsOpen) {
  ExpireTimer t;
  t.step = wharf::v1::STEP_KIND_BUILD;
  t.project_id = "shop";
  t.run_id = "r-1";
  t.attempt = 1;
  t.timeout_s = 600;
  auto r = log.when(t, "system");
  ASSERT_THAT(types(r), ElementsAre("StepTimedOut", "BuildFailed", "PipelineRunCompleted"));
  EXPECT_TRUE(r->at(1).payload().build_failed().timed_out());
  EXPECT_EQ(r->at(1).payload().build_failed().reason(), "timed out after 600s");
  EXPECT_EQ(r->at(1).causation_id(), r->at(0).event_id());
  EXPECT_THAT(types(log.when(t, "system")), ElementsAre());  // stale timer: nothing
}

TEST_F(RunDecider, TestsTimerExpires) {
  ASSERT_TRUE(log.when(build_ok("r-1", kDigest1)));
  ASSERT_TRUE(log.when(stage_result("staging", true)));
  ExpireTimer t;
  t.step = wharf::v1::STEP_KIND_TESTS;
  t.project_id = "shop";
  t.run_id = "r-1";
  t.environment = "staging";
  t.attempt = 1;
  t.timeout_s = 30;
  ASSERT_THAT(types(log.when(t, "system")),
              ElementsAre("StepTimedOut", "TestsFailed", "PipelineRunCompleted"));
  EXPECT_EQ(run().status, RunStatus::kFailed);
  EXPECT_EQ(run().step, RunStep::kTests);
}

TEST(RunStages, ManualStageEndsTheRunAndNoEnvironmentsEndsAfterBuild) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {environment("staging", false)})));
  ASSERT_TRUE(log.when(commit("a1", "shop", "r-1")));
  auto r = log.when(build_ok("r-1", kDigest1));
  ASSERT_THAT(types(r), ElementsAre("BuildSucceeded", "VersionRecorded", "PipelineRunCompleted"));
  EXPECT_EQ(r->at(2).payload().pipeline_run_completed().reason(),
            "stopped before staging: auto-deploy is off there; deploy it manually");

  ASSERT_TRUE(log.when(demo_project("lib")));
  ASSERT_TRUE(log.when(commit("b2", "lib", "r-2")));
  auto lib = log.when(build_ok("r-2", kDigest1));
  ASSERT_THAT(types(lib), ElementsAre("BuildSucceeded", "VersionRecorded", "PipelineRunCompleted"));
  EXPECT_EQ(lib->at(2).payload().pipeline_run_completed().outcome(),
            wharf::v1::RUN_OUTCOME_SUCCEEDED);
}

TEST(RunStages, ApprovalBeforeTheFirstEnvironment) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {environment("prod", true, true)})));
  ASSERT_TRUE(log.when(commit("a1", "shop", "r-1")));
  EXPECT_THAT(types(log.when(build_ok("r-1", kDigest1))),
              ElementsAre("BuildSucceeded", "VersionRecorded", "ApprovalRequired"));
}

TEST(RunStages, TheRunKeepsItsSnapshotWhenTheProjectChanges) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {environment("staging")})));
  ASSERT_TRUE(log.when(commit("a1", "shop", "r-1")));
  DefineEnvironment gate;
  gate.project_id = "shop";
  gate.environment = environment("staging", true, true);
  ASSERT_TRUE(log.when(gate));
  EXPECT_THAT(types(log.when(build_ok("r-1", kDigest1))),
              ElementsAre("BuildSucceeded", "VersionRecorded", "StageDeployRequested"));
}

}  // namespace
}  // namespace wharf::engine::testing

namespace wharf::engine::testing {
namespace {

TEST_F(RunDecider, RetryStepAfterFailedTestsRerunsThem) {
  ASSERT_TRUE(log.when(build_ok("r-1", kDigest1)));
  ASSERT_TRUE(log.when(stage_result("staging", true)));
  ASSERT_TRUE(log.when(tests("staging", false)));
  auto r = log.when(RetryStep{"r-1", ""});
  ASSERT_THAT(types(r), ElementsAre("TestsRequested"));
  EXPECT_EQ(r->at(0).payload().tests_requested().attempt(), 2u);
  auto old = log.when(tests("staging", true, 1));
  ASSERT_FALSE(old.has_value());
  EXPECT_EQ(old.error().code, Rejection::Code::kStale);
}

TEST_F(RunDecider, CommandsOnUnknownRunsAreNotFound) {
  for (const Command& c : std::vector<Command>{
           RecordBuildProgress{"r-9", 1, RecordBuildProgress::Kind::kStarted, "", "", ""},
           Approve{"r-9", "prod", ""}, RetryStep{"r-9", ""}, RunTests{"r-9", "staging", ""},
           build_ok("r-9", kDigest1)}) {
    auto r = log.when(c);
    ASSERT_FALSE(r.has_value()) << command_name(c);
    EXPECT_EQ(r.error().code, Rejection::Code::kNotFound) << command_name(c);
    EXPECT_EQ(r.error().reason, "run r-9 does not exist");
  }
}

TEST_F(RunDecider, ABuildResultDuringADeployIsStale) {
  ASSERT_TRUE(log.when(build_ok("r-1", kDigest1)));
  auto r = log.when(build_ok("r-1", kDigest1));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason,
            "run r-1 is deploying to staging (attempt 1); cannot record build result for attempt 1");
}

}  // namespace
}  // namespace wharf::engine::testing
