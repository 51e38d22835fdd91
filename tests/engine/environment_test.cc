// Environment decider: the deploy queue (one at a time, FIFO) and rollback.
#include <google/protobuf/util/message_differencer.h>

#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kV1 = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kV2 = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

RequestDeploy run_deploy(const std::string& run_id, const std::string& digest,
                         const std::string& env = "staging", uint32_t attempt = 1) {
  RequestDeploy r;
  r.project_id = "shop";
  r.environment = env;
  r.deploy_id = run_id + "." + env;
  r.run_id = run_id;
  r.attempt = attempt;
  r.spec.set_version(digest);
  r.spec.set_artifact_digest(digest);
  r.spec.set_artifact_uri("cas://" + digest);
  r.spec.set_replicas(3);
  (*r.spec.mutable_config())["FEATURE"] = run_id;
  r.spec.set_start_command("./app");
  return r;
}

RecordDeployResult result(const std::string& deploy_id, bool ok, const std::string& env = "staging",
                          uint32_t attempt = 1) {
  RecordDeployResult r;
  r.project_id = "shop";
  r.environment = env;
  r.deploy_id = deploy_id;
  r.attempt = attempt;
  r.succeeded = ok;
  r.url = ok ? "http://127.0.0.1:9001" : "";
  r.reason = ok ? "" : "health check failed";
  return r;
}

EnvironmentState env_state(Log& log, const std::string& env = "staging") {
  std::string stream = environment_stream("shop", env);
  return *fold(stream, log.streams[stream]).environment();
}

TEST(EnvironmentDecider, RequestDeployQueuesOnceAndReportsTheSpec) {
  Log log;
  auto r = log.when(run_deploy("r-1", kV1));
  ASSERT_THAT(types(r), ElementsAre("DeployRequested"));
  EXPECT_EQ(r->at(0).stream_id(), "env-shop-staging");
  EXPECT_EQ(r->at(0).correlation_id(), "r-1");
  EXPECT_EQ(r->at(0).payload().deploy_requested().spec().replicas(), 3u);
  EXPECT_THAT(types(log.when(run_deploy("r-1", kV1))), ElementsAre());  // the same request again
  EXPECT_EQ(env_state(log).queue.size(), 1u);
}

TEST(EnvironmentDecider, OneDeployAtATimeTheSecondWaitsInOrder) {
  Log log;
  ASSERT_TRUE(log.when(run_deploy("r-1", kV1)));
  ASSERT_TRUE(log.when(run_deploy("r-2", kV2)));
  ASSERT_TRUE(log.when(run_deploy("r-3", kV2)));
  EnvironmentState s = env_state(log);
  ASSERT_EQ(s.queue.size(), 3u);
  EXPECT_EQ(s.in_flight()->deploy_id, "r-1.staging");

  auto early = log.when(result("r-2.staging", true));
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().code, Rejection::Code::kInvalidTransition);
  EXPECT_EQ(early.error().reason,
            "deploy r-2.staging is waiting behind deploy r-1.staging in staging (one deploy at a "
            "time); cannot record deploy result");
  RecordDeployProgress p{"shop", "staging", "r-2.staging", 1,
                         RecordDeployProgress::Kind::kStarted, "pid 7", "", 0};
  EXPECT_FALSE(log.when(p).has_value());

  ASSERT_THAT(types(log.when(result("r-1.staging", true))), ElementsAre("DeploySucceeded"));
  EXPECT_EQ(env_state(log).in_flight()->deploy_id, "r-2.staging");
  ASSERT_THAT(types(log.when(result("r-2.staging", false))), ElementsAre("DeployFailed"));
  EXPECT_EQ(env_state(log).in_flight()->deploy_id, "r-3.staging");
}

TEST(EnvironmentDecider, ProgressStartedOnceThenProgressed) {
  Log log;
  ASSERT_TRUE(log.when(run_deploy("r-1", kV1)));
  RecordDeployProgress p{"shop", "staging", "r-1.staging", 1,
                         RecordDeployProgress::Kind::kStarted, "pid 42", "", 0};
  EXPECT_THAT(types(log.when(p)), ElementsAre("DeployStarted"));
  EXPECT_THAT(types(log.when(p)), ElementsAre());
  p.kind = RecordDeployProgress::Kind::kProgress;
  p.message = "1/3 healthy";
  p.percent = 33;
  auto r = log.when(p);
  ASSERT_THAT(types(r), ElementsAre("DeployProgressed"));
  EXPECT_EQ(r->at(0).payload().deploy_progressed().percent(), 33u);
  EXPECT_TRUE(env_state(log).in_flight()->started);
}

TEST(EnvironmentDecider, ResultCopiesTheSpecAndCannotBeRecordedTwice) {
  Log log;
  auto req = log.when(run_deploy("r-1", kV1));
  auto r = log.when(result("r-1.staging", true));
  ASSERT_THAT(types(r), ElementsAre("DeploySucceeded"));
  const auto& s = r->at(0).payload().deploy_succeeded();
  EXPECT_TRUE(MessageDifferencer::Equals(s.spec(), req->at(0).payload().deploy_requested().spec()));
  EXPECT_EQ(s.run_id(), "r-1");
  EXPECT_EQ(s.attempt(), 1u);
  EXPECT_EQ(s.url(), "http://127.0.0.1:9001");

  auto again = log.when(result("r-1.staging", false));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Rejection::Code::kStale);
  EXPECT_EQ(again.error().reason,
            "deploy r-1.staging (attempt 1) to staging already finished; cannot record deploy "
            "result");
  auto unknown = log.when(result("r-9.staging", true));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Rejection::Code::kNotFound);
  EnvironmentState st = env_state(log);
  ASSERT_EQ(st.succeeded.size(), 1u);
  EXPECT_EQ(st.succeeded[0].event_id, r->at(0).event_id());
}

TEST(EnvironmentDecider, ManualDeployTakesTheRestOfTheSpecFromTheProject) {
  Log log;
  RequestDeploy manual;
  manual.project_id = "shop";
  manual.environment = "staging";
  manual.spec.set_artifact_digest(kV1);
  manual.spec.set_artifact_uri("cas://v1");
  auto missing = log.when(manual);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().reason, "project shop does not exist");

  ASSERT_TRUE(log.when(demo_project("shop", {environment("staging")})));
  manual.environment = "qa";
  auto no_env = log.when(manual);
  ASSERT_FALSE(no_env.has_value());
  EXPECT_EQ(no_env.error().reason, "project shop has no environment qa");

  manual.environment = "staging";
  auto r = log.when(manual, "bob");
  ASSERT_THAT(types(r), ElementsAre("DeployRequested"));
  const auto& d = r->at(0).payload().deploy_requested();
  EXPECT_EQ(d.run_id(), "");
  EXPECT_FALSE(d.deploy_id().empty());
  EXPECT_EQ(d.requested_by(), "bob");
  EXPECT_EQ(d.spec().version(), kV1);
  EXPECT_EQ(d.spec().start_command(), "./app --port $PORT");
  EXPECT_EQ(d.spec().replicas(), 2u);
  EXPECT_EQ(d.spec().target(), wharf::v1::TARGET_TYPE_LOCAL);
  EXPECT_EQ(d.spec().config().at("LOG_LEVEL"), "info");

  RequestDeploy unknown_version;
  unknown_version.project_id = "shop";
  unknown_version.environment = "staging";
  unknown_version.spec.set_version("v9");
  auto v = log.when(unknown_version);
  ASSERT_FALSE(v.has_value());
  EXPECT_THAT(v.error().reason, HasSubstr("needs its artifact digest"));
}

TEST(EnvironmentDecider, CancelDeployRemovesItFromTheQueue) {
  Log log;
  ASSERT_TRUE(log.when(run_deploy("r-1", kV1)));
  ASSERT_TRUE(log.when(run_deploy("r-2", kV2)));
  CancelDeploy c{"shop", "staging", "r-2.staging", 1, "run r-2 was cancelled"};
  auto r = log.when(c, "system");
  ASSERT_THAT(types(r), ElementsAre("DeployFailed"));
  EXPECT_TRUE(r->at(0).payload().deploy_failed().cancelled());
  EXPECT_EQ(r->at(0).payload().deploy_failed().reason(), "cancelled: run r-2 was cancelled");
  EXPECT_FALSE(env_state(log).last_removed_was_in_flight);
  EXPECT_THAT(types(log.when(c, "system")), ElementsAre());  // already gone
  EXPECT_EQ(env_state(log).queue.size(), 1u);
}

TEST(EnvironmentDecider, DeployTimerFailsTheInFlightDeployOnly) {
  Log log;
  ASSERT_TRUE(log.when(run_deploy("r-1", kV1)));
  ExpireTimer t;
  t.step = wharf::v1::STEP_KIND_DEPLOY;
  t.project_id = "shop";
  t.environment = "staging";
  t.run_id = "r-1";
  t.deploy_id = "r-1.staging";
  t.attempt = 1;
  t.timeout_s = 120;
  auto r = log.when(t, "system");
  ASSERT_THAT(types(r), ElementsAre("StepTimedOut", "DeployFailed"));
  EXPECT_TRUE(r->at(1).payload().deploy_failed().timed_out());
  EXPECT_EQ(r->at(0).payload().step_timed_out().step(), wharf::v1::STEP_KIND_DEPLOY);
  EXPECT_TRUE(env_state(log).last_removed_was_in_flight);
  EXPECT_THAT(types(log.when(t, "system")), ElementsAre());
}

// Given two successful deploys of v1 then v2 to prod, a rollback replays v1's event.
class Rollback : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(log.when(run_deploy("r-1", kV1, "prod")));
    first = *log.when(result("r-1.prod", true, "prod"))->begin();
    ASSERT_TRUE(log.when(run_deploy("r-2", kV2, "prod")));
    ASSERT_TRUE(log.when(result("r-2.prod", true, "prod")));
  }
  RequestRollback to_event(const std::string& event_id, const std::string& env = "prod") {
    RequestRollback r;
    r.project_id = "shop";
    r.environment = env;
    r.target_deploy_event_id = event_id;
    r.reason = "v2 is slow";
    return r;
  }
  Log log;
  Envelope first;
};

TEST_F(Rollback, ReplaysExactlyTheRecordedSpecCausedByTheRequest) {
  auto r = log.when(to_event(first.event_id()), "ops");
  ASSERT_THAT(types(r), ElementsAre("RollbackRequested", "DeployRequested"));
  const auto& rb = r->at(0).payload().rollback_requested();
  const auto& d = r->at(1).payload().deploy_requested();
  EXPECT_TRUE(MessageDifferencer::Equals(d.spec(), first.payload().deploy_succeeded().spec()));
  EXPECT_EQ(d.spec().config().at("FEATURE"), "r-1");
  EXPECT_EQ(d.rollback_id(), rb.rollback_id());
  EXPECT_FALSE(rb.rollback_id().empty());
  EXPECT_EQ(d.rollback_of_event_id(), first.event_id());
  EXPECT_EQ(rb.target_deploy_event_id(), first.event_id());
  EXPECT_EQ(rb.target_version(), kV1);
  EXPECT_EQ(rb.requested_by(), "ops");
  EXPECT_EQ(d.run_id(), "");
  EXPECT_EQ(r->at(1).causation_id(), r->at(0).event_id());
  EXPECT_EQ(r->at(1).correlation_id(), rb.rollback_id());
}

TEST_F(Rollback, ByVersionTakesTheLatestSuccessfulDeployOfIt) {
  RequestRollback r;
  r.project_id = "shop";
  r.environment = "prod";
  r.target_version = "aaaaaaaa";  // a digest prefix
  auto res = log.when(r);
  ASSERT_THAT(types(res), ElementsAre("RollbackRequested", "DeployRequested"));
  EXPECT_EQ(res->at(1).payload().deploy_requested().rollback_of_event_id(), first.event_id());
  EXPECT_TRUE(MessageDifferencer::Equals(res->at(1).payload().deploy_requested().spec(),
                                         first.payload().deploy_succeeded().spec()));
}

TEST_F(Rollback, SameRollbackIdTwiceIsOneRollback) {
  RequestRollback r = to_event(first.event_id());
  r.rollback_id = "rb-1";
  ASSERT_TRUE(log.when(r));
  EXPECT_THAT(types(log.when(r)), ElementsAre());
}

TEST_F(Rollback, RefusesATargetThatIsNotADeploySucceeded) {
  auto requested = log.all.front();  // the first DeployRequested
  ASSERT_EQ(requested.type(), "DeployRequested");
  auto r = log.when(to_event(requested.event_id()));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason, "event " + requested.event_id() +
                                  " is a DeployRequested, not a DeploySucceeded; only a successful "
                                  "deploy can be a rollback target");
}

TEST_F(Rollback, RefusesADeployOfAnotherEnvironment) {
  ASSERT_TRUE(log.when(run_deploy("r-1", kV1, "staging")));
  auto staging = *log.when(result("r-1.staging", true, "staging"))->begin();
  auto r = log.when(to_event(staging.event_id(), "prod"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason,
            "event " + staging.event_id() + " is a deploy to staging, not to prod");
}

TEST_F(Rollback, RefusesADeployOfAnotherProject) {
  // Given: a DeploySucceeded of project "other" in its own prod.
  Log other;
  RequestDeploy d = run_deploy("x-1", kV1, "prod");
  d.project_id = "other";
  ASSERT_TRUE(other.when(d));
  RecordDeployResult ok = result("x-1.prod", true, "prod");
  ok.project_id = "other";
  Envelope foreign = *other.when(ok)->begin();
  log.append({foreign});
  auto r = log.when(to_event(foreign.event_id()));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason, "event " + foreign.event_id() + " belongs to project other, not shop");
}

TEST_F(Rollback, RefusesUnknownTargets) {
  auto r = log.when(to_event("no-such-event"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Rejection::Code::kNotFound);
  EXPECT_EQ(r.error().reason, "event no-such-event is not a successful deploy in prod of project shop");

  RequestRollback v;
  v.project_id = "shop";
  v.environment = "prod";
  v.target_version = "sha256:cccc";
  auto rv = log.when(v);
  ASSERT_FALSE(rv.has_value());
  EXPECT_EQ(rv.error().reason, "version sha256:cccc never succeeded in prod of project shop");

  RequestRollback both = to_event(first.event_id());
  both.target_version = kV1;
  auto rb = log.when(both);
  ASSERT_FALSE(rb.has_value());
  EXPECT_EQ(rb.error().code, Rejection::Code::kInvalidArgument);
  auto neither = log.when(RequestRollback{"shop", "prod", "", "", "", ""});
  ASSERT_FALSE(neither.has_value());
}

TEST_F(Rollback, AFailedDeployIsNeverATarget) {
  ASSERT_TRUE(log.when(run_deploy("r-3", kV1, "prod")));
  auto failed = *log.when(result("r-3.prod", false, "prod"))->begin();
  auto r = log.when(to_event(failed.event_id()));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().reason, HasSubstr("is a DeployFailed, not a DeploySucceeded"));
}

}  // namespace
}  // namespace wharf::engine::testing

namespace wharf::engine::testing {
namespace {

TEST(EnvironmentDecider, ManualDeployOfAVersionSeenHereNeedsNoDigest) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {environment("staging")})));
  ASSERT_TRUE(log.when(run_deploy("r-1", kV1)));
  ASSERT_TRUE(log.when(result("r-1.staging", true)));
  RequestDeploy again;
  again.project_id = "shop";
  again.environment = "staging";
  again.spec.set_version(kV1);
  auto r = log.when(again);
  ASSERT_THAT(types(r), ElementsAre("DeployRequested"));
  EXPECT_EQ(r->at(0).payload().deploy_requested().spec().artifact_uri(), "cas://" + kV1);
}

TEST(EnvironmentDecider, LatestOfVersionPrefersTheNewestDeploy) {
  Log log;
  ASSERT_TRUE(log.when(run_deploy("r-1", kV1)));
  ASSERT_TRUE(log.when(result("r-1.staging", true)));
  ASSERT_TRUE(log.when(run_deploy("r-2", kV1)));
  auto second = log.when(result("r-2.staging", true));
  ASSERT_TRUE(second.has_value());
  EnvironmentState s = env_state(log);
  ASSERT_NE(s.latest_of_version(kV1), nullptr);
  EXPECT_EQ(s.latest_of_version(kV1)->event_id, second->at(0).event_id());
  EXPECT_EQ(s.latest_of_version("aaaaaa"), nullptr);  // prefixes need 7 characters
  EXPECT_NE(s.latest_of_version("aaaaaaa"), nullptr);
}

}  // namespace
}  // namespace wharf::engine::testing
