// The process manager against fake ports: the whole pipeline, retries,
// timeouts, cancel, one deploy at a time per environment, and restart.
#include <gtest/gtest.h>

#include "adapters/runtime/runtime.h"
#include "engine/run.h"
#include "tests/runtime/fake_ports.h"
#include "tests/runtime/runtime_fixture.h"

namespace wharf::runtime {
namespace {

using namespace wharf::runtime::testing;

class ProcessManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path() / "events");
    start_runtime();
  }
  void TearDown() override {
    runtime_.reset();
    store_.reset();
  }

  void start_runtime() {
    RuntimeOptions options;
    options.data_dir = dir_.path();
    options.clock = &clock_;
    runtime_ = std::make_unique<Runtime>(*store_, options, Ports{&build_, &deploy_, &tests_});
    auto started = runtime_->start();
    ASSERT_TRUE(started) << started.error();
  }

  CommandOutcome execute(const engine::Command& command) {
    return runtime_->commands().execute(
        command, runtime_->commands().user_context("alice", wharf::v1::CHANNEL_CLI));
  }

  // Observes a commit; returns the run id.
  std::string observe(const std::string& sha) {
    engine::ObserveCommit commit = make_commit("shop", sha);
    auto outcome = execute(commit);
    EXPECT_TRUE(outcome) << outcome.error().message();
    return engine::run_id_of(commit);
  }

  void create_project(const std::vector<std::string>& environments,
                      const std::string& suite_env = {}, uint32_t build_timeout_s = 60) {
    auto project = make_project("shop", "/srv/git/shop", environments, suite_env);
    project.pipeline.mutable_build()->set_timeout_s(build_timeout_s);
    auto outcome = execute(project);
    ASSERT_TRUE(outcome) << outcome.error().message();
  }

  size_t count(const std::string& type) { return events_of_type(*store_, type).size(); }

  TempDir dir_;
  ManualClock clock_;
  FakeBuildRunner build_;
  FakeDeployTarget deploy_;
  FakeTestRunner tests_;
  std::unique_ptr<events::EventStore> store_;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(ProcessManagerTest, CommitGoesThroughBuildStagingTestsProd) {
  build_.auto_complete(FakeBuildRunner::success());
  deploy_.auto_complete(FakeDeployTarget::success());
  tests_.auto_complete(FakeTestRunner::passed());
  create_project({"staging", "prod"}, "staging");

  std::string run = observe("c0ffee1");
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, run); }));

  EXPECT_EQ(build_.starts(), 1u);
  EXPECT_EQ(tests_.starts(), 1u);
  ASSERT_EQ(deploy_.starts(), 2u);
  auto deploys = deploy_.jobs();
  EXPECT_EQ(deploys[0].environment, "staging");
  EXPECT_EQ(deploys[1].environment, "prod");
  EXPECT_EQ(deploys[1].spec.artifact_digest(), FakeBuildRunner::success().artifact_digest);
  EXPECT_EQ(count("DeploySucceeded"), 2u);
  EXPECT_EQ(count("TestsPassed"), 1u);
  EXPECT_EQ(count("VersionRecorded"), 1u);
}

TEST_F(ProcessManagerTest, FailedBuildIsRetriedWithTheNextAttempt) {
  deploy_.auto_complete(FakeDeployTarget::success());
  create_project({"staging"});
  std::string run = observe("badc0de");
  ASSERT_TRUE(eventually([&] { return build_.starts() == 1; }));

  engine::BuildOutcome failed;
  failed.reason = "compiler said no";
  failed.exit_code = 2;
  ASSERT_TRUE(build_.complete(key(run, 1), failed));
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, run, wharf::v1::RUN_OUTCOME_FAILED); }));
  EXPECT_EQ(count("BuildFailed"), 1u);
  EXPECT_EQ(deploy_.starts(), 0u);

  auto retried = execute(engine::RetryStep{run, "flaky"});
  ASSERT_TRUE(retried) << retried.error().message();
  ASSERT_TRUE(eventually([&] { return build_.starts_of(key(run, 2)) == 1; }));
  ASSERT_TRUE(build_.complete(key(run, 2), FakeBuildRunner::success()));
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, run); }));
  EXPECT_EQ(build_.starts_of(key(run, 1)), 1u);
  EXPECT_EQ(deploy_.starts(), 1u);
}

TEST_F(ProcessManagerTest, BuildThatOutlivesItsTimeoutFailsAndIsCancelled) {
  create_project({"staging"}, "", /*build_timeout_s=*/30);
  std::string run = observe("510w");
  ASSERT_TRUE(eventually([&] { return build_.starts() == 1; }));
  EXPECT_EQ(count("StepTimedOut"), 0u);

  clock_.advance(std::chrono::seconds(31));
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, run, wharf::v1::RUN_OUTCOME_FAILED); }));
  auto timed_out = events_of_type(*store_, "StepTimedOut");
  ASSERT_EQ(timed_out.size(), 1u);
  EXPECT_EQ(timed_out[0].payload().step_timed_out().step(), wharf::v1::STEP_KIND_BUILD);
  auto failed = events_of_type(*store_, "BuildFailed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(failed[0].payload().build_failed().timed_out());
  ASSERT_TRUE(eventually([&] { return build_.cancels().size() == 1; }));
  EXPECT_EQ(build_.cancels()[0], key(run, 1));

  // The late result of the timed-out attempt changes nothing.
  build_.complete(key(run, 1), FakeBuildRunner::success());
  runtime_->commands().drain();
  EXPECT_EQ(count("BuildSucceeded"), 0u);
}

TEST_F(ProcessManagerTest, CancelStopsTheRunningBuild) {
  create_project({"staging"});
  std::string run = observe("cafe");
  ASSERT_TRUE(eventually([&] { return build_.starts() == 1; }));
  auto cancelled = execute(engine::CancelRun{run, "wrong branch"});
  ASSERT_TRUE(cancelled) << cancelled.error().message();
  ASSERT_TRUE(eventually([&] { return build_.cancels().size() == 1; }));
  EXPECT_EQ(build_.cancels()[0], key(run, 1));
  EXPECT_EQ(count("PipelineRunCancelled"), 1u);

  build_.complete(key(run, 1), FakeBuildRunner::success());
  runtime_->commands().drain();
  EXPECT_EQ(count("DeployRequested"), 0u);
  EXPECT_EQ(deploy_.starts(), 0u);
}

TEST_F(ProcessManagerTest, OneDeployAtATimePerEnvironment) {
  build_.auto_complete(FakeBuildRunner::success());
  create_project({"staging"});
  std::string run_a = observe("1111111");
  std::string run_b = observe("2222222");
  // Both runs reach the environment; only the first deploy is handed out.
  // Builds finish concurrently, so the queue order is the order of the
  // DeployRequested events in the log, not the order the commits came in.
  ASSERT_TRUE(eventually([&] { return count("DeployRequested") == 2; }));
  auto requested = events_of_type(*store_, "DeployRequested");
  std::string first = requested[0].payload().deploy_requested().run_id();
  std::string second = requested[1].payload().deploy_requested().run_id();
  ASSERT_NE(first, second);
  ASSERT_TRUE((first == run_a && second == run_b) || (first == run_b && second == run_a));
  ASSERT_TRUE(eventually([&] { return deploy_.starts() == 1; }));
  runtime_->commands().drain();
  ASSERT_TRUE(runtime_->process_manager().wait_until_handled(
      store_->head_position(), std::chrono::steady_clock::now() + std::chrono::seconds(10)));
  EXPECT_EQ(deploy_.starts(), 1u);
  std::string first_deploy = deploy_.jobs()[0].deploy_id;
  EXPECT_EQ(deploy_.jobs()[0].run_id, first);

  ASSERT_TRUE(deploy_.complete(key(first_deploy, 1), FakeDeployTarget::success()));
  ASSERT_TRUE(eventually([&] { return deploy_.starts() == 2; }));
  EXPECT_EQ(deploy_.jobs()[1].run_id, second);
  ASSERT_TRUE(deploy_.complete(key(deploy_.jobs()[1].deploy_id, 1), FakeDeployTarget::success()));
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, first) && run_completed(*store_, second); }));
}

TEST_F(ProcessManagerTest, RestartRecoversOnlyOutstandingWork) {
  deploy_.auto_complete(FakeDeployTarget::success());
  create_project({"staging"});
  std::string done_run = observe("d0e");
  ASSERT_TRUE(eventually([&] { return build_.starts() == 1; }));
  ASSERT_TRUE(build_.complete(key(done_run, 1), FakeBuildRunner::success()));
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, done_run); }));

  std::string open_run = observe("0be");
  ASSERT_TRUE(eventually([&] { return build_.starts() == 2; }));

  // Crash-like restart: a new bus and process manager over the same log.
  runtime_.reset();
  start_runtime();
  // The open build is handed out again (the port adopts it by run + attempt);
  // the finished run's build and deploy are not.
  ASSERT_TRUE(eventually([&] { return build_.starts_of(key(open_run, 1)) == 2; }));
  EXPECT_EQ(build_.starts_of(key(done_run, 1)), 1u);
  EXPECT_EQ(deploy_.starts(), 1u);
  EXPECT_GE(runtime_->process_manager().stats().recovered, 1u);

  ASSERT_TRUE(build_.complete(key(open_run, 1), FakeBuildRunner::success()));
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, open_run); }));
  EXPECT_EQ(deploy_.starts(), 2u);

  // Nothing is outstanding now: another restart starts nothing.
  runtime_.reset();
  start_runtime();
  runtime_->commands().drain();
  EXPECT_EQ(build_.starts(), 3u);
  EXPECT_EQ(deploy_.starts(), 2u);
  EXPECT_EQ(runtime_->process_manager().stats().builds_started, 0u);
  EXPECT_EQ(runtime_->process_manager().stats().deploys_started, 0u);
}

TEST_F(ProcessManagerTest, CheckpointFollowsTheHandledEvents) {
  build_.auto_complete(FakeBuildRunner::success());
  deploy_.auto_complete(FakeDeployTarget::success());
  create_project({"staging"});
  std::string run = observe("beef");
  ASSERT_TRUE(eventually([&] { return run_completed(*store_, run); }));
  uint64_t head = store_->head_position();
  ASSERT_TRUE(runtime_->process_manager().wait_until_handled(
      head, std::chrono::steady_clock::now() + std::chrono::seconds(10)));
  runtime_.reset();  // stop writes the final checkpoint
  auto checkpoint = store_->get_meta(kCheckpointKey);
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(std::stoull(*checkpoint), store_->head_position());
}

}  // namespace
}  // namespace wharf::runtime
