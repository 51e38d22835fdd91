// What a worker receives is exactly what the process manager asked for, and
// what serve receives is exactly what the runner reported.
#include "adapters/workers/task_codec.h"

#include <gtest/gtest.h>

namespace wharf::workers {
namespace {

namespace v1 = wharf::v1;

v1::Task through_the_wire(const v1::Task& task) {
  v1::Task back;
  EXPECT_TRUE(back.ParseFromString(task.SerializeAsString()));
  return back;
}

TEST(TaskCodec, BuildJobSurvivesTheWire) {
  engine::BuildJob job{"r-1", "shop", 3, "abc123", "/srv/git/shop", {}};
  job.step.set_command("make dist");
  job.step.set_artifact_path("dist");
  job.step.set_timeout_s(90);
  const v1::Task task = through_the_wire(to_task(job));
  EXPECT_EQ(task_name(task), "build/r-1#3");
  EXPECT_EQ(partition_key(task), "r-1");
  const engine::BuildJob back = build_job(task);
  EXPECT_EQ(back.run_id, "r-1");
  EXPECT_EQ(back.project_id, "shop");
  EXPECT_EQ(back.attempt, 3u);
  EXPECT_EQ(back.commit_sha, "abc123");
  EXPECT_EQ(back.repository, "/srv/git/shop");
  EXPECT_EQ(back.step.SerializeAsString(), job.step.SerializeAsString());
}

TEST(TaskCodec, DeployOfARunIsKeyedByTheRunAndAManualOneByItsDeploy) {
  engine::DeployJob job{"d-9", "shop", "prod", "r-7", 2, {}};
  job.spec.set_artifact_digest("sha256:" + std::string(64, 'b'));
  job.spec.set_replicas(3);
  (*job.spec.mutable_config())["GREETING"] = "hi";
  const v1::Task task = through_the_wire(to_task(job));
  EXPECT_EQ(task_name(task), "deploy/d-9#2");
  EXPECT_EQ(partition_key(task), "r-7");
  const engine::DeployJob back = deploy_job(task);
  EXPECT_EQ(back.deploy_id, "d-9");
  EXPECT_EQ(back.environment, "prod");
  EXPECT_EQ(back.run_id, "r-7");
  EXPECT_EQ(back.attempt, 2u);
  EXPECT_EQ(back.spec.SerializeAsString(), job.spec.SerializeAsString());

  job.run_id.clear();  // a manual deploy or a rollback
  EXPECT_EQ(partition_key(to_task(job)), "d-9");
}

TEST(TaskCodec, TestJobKeepsEverySuite) {
  engine::TestJob job{"r-2", "shop", "staging", 1, "http://127.0.0.1:9", {}};
  for (const char* name : {"smoke", "api"}) {
    wharf::v1::TestSuite suite;
    suite.set_name(name);
    suite.set_command(std::string("run ") + name);
    job.suites.push_back(suite);
  }
  const engine::TestJob back = test_job(through_the_wire(to_task(job)));
  ASSERT_EQ(back.suites.size(), 2u);
  EXPECT_EQ(back.suites[1].name(), "api");
  EXPECT_EQ(back.target_url, "http://127.0.0.1:9");
  EXPECT_EQ(back.environment, "staging");
}

TEST(TaskCodec, OutcomesAndProgressRoundTrip) {
  engine::BuildOutcome build{false, "sha256:x", "file:///a", "exit 2", 2, 1234};
  engine::BuildOutcome build_back = from_proto(to_proto(build));
  EXPECT_EQ(build_back.succeeded, false);
  EXPECT_EQ(build_back.artifact_digest, "sha256:x");
  EXPECT_EQ(build_back.artifact_uri, "file:///a");
  EXPECT_EQ(build_back.reason, "exit 2");
  EXPECT_EQ(build_back.exit_code, 2);
  EXPECT_EQ(build_back.duration_ms, 1234u);

  engine::DeployOutcome deploy_back =
      from_proto(to_proto(engine::DeployOutcome{true, "http://h", ""}));
  EXPECT_TRUE(deploy_back.succeeded);
  EXPECT_EQ(deploy_back.url, "http://h");

  engine::TestOutcome tests{false, {}, "smoke failed"};
  tests.results.emplace_back().set_name("smoke");
  engine::TestOutcome tests_back = from_proto(to_proto(tests));
  EXPECT_FALSE(tests_back.passed);
  ASSERT_EQ(tests_back.results.size(), 1u);
  EXPECT_EQ(tests_back.results[0].name(), "smoke");
  EXPECT_EQ(tests_back.reason, "smoke failed");

  engine::StepProgress started{engine::StepProgress::Kind::kStarted, "local:42", "/l", "running",
                               10};
  engine::StepProgress back = from_proto(to_proto(started));
  EXPECT_EQ(back.kind, engine::StepProgress::Kind::kStarted);
  EXPECT_EQ(back.external_id, "local:42");
  EXPECT_EQ(back.log_ref, "/l");
  EXPECT_EQ(back.message, "running");
  EXPECT_EQ(back.percent, 10u);
}

TEST(TaskCodec, CancelNamesTheTaskItStops) {
  const v1::Task cancel = through_the_wire(cancel_task(v1::TASK_KIND_TEST, "r-5", 4));
  EXPECT_TRUE(cancel.cancel());
  EXPECT_EQ(task_name(cancel), "test/r-5#4");
  EXPECT_FALSE(cancel.has_test());
}

}  // namespace
}  // namespace wharf::workers
