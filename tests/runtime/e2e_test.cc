// End to end with the local runners on a real git repository: two commits
// built and deployed to staging and prod, prod rolled back to the first
// deploy, and the running process answers with the first version again.
#include <gtest/gtest.h>

#include "adapters/local/http_probe.h"
#include "adapters/runtime/runtime.h"
#include "tests/runtime/e2e_support.h"

namespace wharf::runtime {
namespace {

using namespace wharf::runtime::testing;

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path() / "data" / "events");
    RuntimeOptions options;
    options.data_dir = dir_.path() / "data";
    runtime_ = std::make_unique<Runtime>(*store_, options);
    auto started = runtime_->start();
    ASSERT_TRUE(started) << started.error();
  }
  void TearDown() override {
    if (runtime_ && runtime_->local_deploy_target()) runtime_->local_deploy_target()->stop_all();
    runtime_.reset();
    store_.reset();
  }

  CommandOutcome execute(const engine::Command& command) {
    return runtime_->commands().execute(
        command, runtime_->commands().user_context("alice", wharf::v1::CHANNEL_CLI));
  }

  std::string run_commit(const std::string& sha) {
    engine::ObserveCommit commit = make_commit("hello", sha);
    auto observed = execute(commit);
    EXPECT_TRUE(observed) << observed.error().message();
    std::string run = engine::run_id_of(commit);
    bool done = eventually([&] { return run_completed(*store_, run) ||
                                        run_completed(*store_, run, wharf::v1::RUN_OUTCOME_FAILED); },
                           std::chrono::seconds(90));
    EXPECT_TRUE(done) << "run " << run << " did not finish";
    EXPECT_TRUE(run_completed(*store_, run)) << "run " << run << " failed; logs in "
                                             << (dir_.path() / "data" / "logs").string();
    return run;
  }

  std::string prod_answer() {
    auto serving = runtime_->local_deploy_target()->serving("hello", "prod");
    if (!serving) return "nothing serves prod";
    auto response = local::http_get_url(serving->url + "/", std::chrono::seconds(5));
    return response ? response->body : response.error();
  }

  TempDir dir_;
  std::unique_ptr<events::EventStore> store_;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(EndToEndTest, TwoCommitsReachProdAndProdRollsBackToTheFirstDeploy) {
  fs::path repo = dir_.path() / "repo";
  std::string first_sha = make_hello_repo(repo);
  auto created = execute(hello_project("hello", repo));
  ASSERT_TRUE(created) << created.error().message();

  run_commit(first_sha);
  std::string first_version = "1.0.0+" + first_sha.substr(0, 7);
  EXPECT_NE(prod_answer().find(first_version), std::string::npos) << prod_answer();

  std::string second_sha = commit_version(repo, "2.0.0");
  run_commit(second_sha);
  std::string second_version = "2.0.0+" + second_sha.substr(0, 7);
  EXPECT_NE(prod_answer().find(second_version), std::string::npos) << prod_answer();

  // The two prod deploys, in order; the first is the rollback target.
  std::vector<events::Envelope> prod_successes;
  for (auto& e : events_of_type(*store_, "DeploySucceeded")) {
    if (e.payload().deploy_succeeded().environment() == "prod") prod_successes.push_back(e);
  }
  ASSERT_EQ(prod_successes.size(), 2u);
  const auto& target = prod_successes[0];
  const std::string first_digest = target.payload().deploy_succeeded().spec().artifact_digest();
  ASSERT_NE(first_digest, prod_successes[1].payload().deploy_succeeded().spec().artifact_digest());

  engine::RequestRollback rollback;
  rollback.project_id = "hello";
  rollback.environment = "prod";
  rollback.target_deploy_event_id = target.event_id();
  rollback.reason = "2.0.0 breaks checkout";
  auto requested = execute(rollback);
  ASSERT_TRUE(requested) << requested.error().message();

  ASSERT_TRUE(eventually(
      [&] {
        for (auto& e : events_of_type(*store_, "DeploySucceeded")) {
          if (!e.payload().deploy_succeeded().rollback_id().empty()) return true;
        }
        return false;
      },
      std::chrono::seconds(60)));
  EXPECT_NE(prod_answer().find(first_version), std::string::npos) << prod_answer();

  // The prod stream holds RollbackRequested -> DeployRequested (the first
  // deploy's digest, caused by the rollback) -> DeploySucceeded, in that order.
  auto prod = store_->read_stream("env-hello-prod", 1, 1000, events::Direction::kForward);
  ASSERT_TRUE(prod);
  int rollback_at = -1, request_at = -1, success_at = -1;
  std::string rollback_event_id, rollback_id;
  for (int i = 0; i < static_cast<int>(prod->size()); ++i) {
    const auto& e = (*prod)[static_cast<size_t>(i)];
    if (e.type() == "RollbackRequested") {
      rollback_at = i;
      rollback_event_id = e.event_id();
      rollback_id = e.payload().rollback_requested().rollback_id();
      EXPECT_EQ(e.payload().rollback_requested().target_deploy_event_id(), target.event_id());
    } else if (rollback_at >= 0 && request_at < 0 && e.type() == "DeployRequested") {
      request_at = i;
      const auto& d = e.payload().deploy_requested();
      EXPECT_EQ(d.spec().artifact_digest(), first_digest);
      EXPECT_EQ(d.rollback_id(), rollback_id);
      EXPECT_EQ(d.rollback_of_event_id(), target.event_id());
      EXPECT_EQ(e.causation_id(), rollback_event_id);
    } else if (request_at >= 0 && success_at < 0 && e.type() == "DeploySucceeded") {
      success_at = i;
      EXPECT_EQ(e.payload().deploy_succeeded().spec().artifact_digest(), first_digest);
      EXPECT_EQ(e.payload().deploy_succeeded().rollback_id(), rollback_id);
    }
  }
  EXPECT_GE(rollback_at, 0);
  EXPECT_GT(request_at, rollback_at);
  EXPECT_GT(success_at, request_at);

  // Side effects: two builds, five deploys (2 staging, 2 prod, 1 rollback).
  auto lines = read_lines(dir_.path() / "data" / "sideeffects.log");
  int builds = 0, deploys = 0;
  for (const auto& l : lines) {
    builds += l.rfind("build ", 0) == 0;
    deploys += l.rfind("deploy ", 0) == 0;
  }
  EXPECT_EQ(builds, 2);
  EXPECT_EQ(deploys, 5);
  // Only one prod instance is left running.
  auto serving = runtime_->local_deploy_target()->serving("hello", "prod");
  ASSERT_TRUE(serving);
  EXPECT_TRUE(serving->alive);
  EXPECT_EQ(serving->artifact_digest, first_digest);
}

TEST_F(EndToEndTest, RollbackToAVersionThatNeverRanThereIsRefused) {
  fs::path repo = dir_.path() / "repo";
  std::string sha = make_hello_repo(repo);
  ASSERT_TRUE(execute(hello_project("hello", repo)));
  run_commit(sha);
  engine::RequestRollback rollback;
  rollback.project_id = "hello";
  rollback.environment = "prod";
  rollback.target_version = "sha256:" + std::string(64, 'f');
  rollback.reason = "no such version";
  auto refused = execute(rollback);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, CommandError::Kind::kRejected);
  EXPECT_FALSE(refused.error().rejection.reason.empty());
}

}  // namespace
}  // namespace wharf::runtime
