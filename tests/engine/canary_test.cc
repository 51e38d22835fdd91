// Canary releases (engine/canary.h): given deploys on an environment stream,
// when a canary command (or its pause timer), then canary events / an error.
#include "engine/canary_reactor.h"
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kV1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const std::string kV2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const std::string kV3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

// [{10%, 5 min}, {50%, manual}, {100%}], X-Canary: 1, abort above 5% errors.
wharf::v1::CanaryStrategy strategy() {
  wharf::v1::CanaryStrategy s;
  auto* a = s.add_steps();
  a->set_weight(10);
  a->set_pause_s(300);
  auto* b = s.add_steps();
  b->set_weight(50);
  b->set_manual(true);
  s.add_steps()->set_weight(100);
  s.mutable_match()->set_header("X-Canary");
  s.mutable_match()->set_header_value("1");
  s.mutable_analysis()->set_max_error_rate(0.05);
  s.mutable_analysis()->set_min_requests(20);
  return s;
}

RequestDeploy deploy(const std::string& run_id, const std::string& digest, bool canary) {
  RequestDeploy r;
  r.project_id = "shop";
  r.environment = "prod";
  r.deploy_id = run_id + ".prod";
  r.run_id = run_id;
  r.spec.set_version(digest);
  r.spec.set_artifact_digest(digest);
  r.spec.set_artifact_uri("cas://" + digest);
  r.spec.set_start_command("./app");
  if (canary) *r.spec.mutable_canary() = strategy();
  return r;
}

RecordDeployResult succeeded(const std::string& run_id, const std::string& url) {
  RecordDeployResult r;
  r.project_id = "shop";
  r.environment = "prod";
  r.deploy_id = run_id + ".prod";
  r.attempt = 1;
  r.succeeded = true;
  r.url = url;
  return r;
}

ExpireTimer pause_over(const std::string& canary_id, uint32_t step) {
  ExpireTimer t;
  t.step = wharf::v1::STEP_KIND_CANARY;
  t.project_id = "shop";
  t.environment = "prod";
  t.deploy_id = canary_id;
  t.attempt = step + 1;
  return t;
}

PromoteCanary promote(bool full = false, const std::string& id = "") {
  return PromoteCanary{"shop", "prod", id, full};
}

AbortCanary abort_by_user(const std::string& reason = "") {
  AbortCanary a;
  a.project_id = "shop";
  a.environment = "prod";
  a.reason = reason;
  return a;
}

class Canary : public ::testing::Test {
 protected:
  // Given: v1 serves prod (stable); v2 goes out as a canary and succeeds.
  void SetUp() override {
    ASSERT_TRUE(log.when(deploy("r-1", kV1, false)));
    ASSERT_TRUE(log.when(succeeded("r-1", "http://127.0.0.1:9001")));
    ASSERT_TRUE(log.when(deploy("r-2", kV2, true)));
    started = log.when(succeeded("r-2", "http://127.0.0.1:9002"));
    ASSERT_TRUE(started);
    canary_id = canary_id_of("r-2.prod", 1);
  }
  CanaryState state() {
    std::string stream = environment_stream("shop", "prod");
    return fold(stream, log.streams[stream]).environment()->canary;
  }
  Log log;
  Result started = std::vector<Envelope>{};
  std::string canary_id;
};

TEST(CanaryStart, TheFirstDeployHasNoStableBesideItSoItGoesOutWhole) {
  Log log;
  auto r = log.when(deploy("r-1", kV1, true));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->at(0).payload().deploy_requested().spec().has_canary());
  EXPECT_THAT(types(log.when(succeeded("r-1", "http://127.0.0.1:9001"))),
              ElementsAre("DeploySucceeded"));
}

TEST_F(Canary, ASuccessfulCanaryDeployStartsAtTheFirstStep) {
  ASSERT_THAT(types(started), ElementsAre("DeploySucceeded", "CanaryStarted", "CanaryStepReached"));
  const auto& s = started->at(1).payload().canary_started();
  EXPECT_EQ(s.canary_id(), canary_id);
  EXPECT_EQ(s.version(), kV2);
  EXPECT_EQ(s.stable_version(), kV1);
  EXPECT_EQ(s.url(), "http://127.0.0.1:9002");
  EXPECT_EQ(s.stable_deploy_event_id(), log.all[1].event_id());
  EXPECT_EQ(started->at(1).causation_id(), started->at(0).event_id());
  const auto& step = started->at(2).payload().canary_step_reached();
  EXPECT_EQ(step.step(), 0u);
  EXPECT_EQ(step.weight(), 10u);
  EXPECT_EQ(step.pause_s(), 300u);
  EXPECT_FALSE(step.manual());
  CanaryState c = state();
  EXPECT_TRUE(c.active);
  EXPECT_EQ(c.weight, 10u);
  EXPECT_EQ(c.stable_version, kV1);
  EXPECT_EQ(c.stable_url, "http://127.0.0.1:9001");
}

TEST_F(Canary, PauseExpiryMovesToTheNextStepOnceAndAManualStepWaits) {
  auto r = log.when(pause_over(canary_id, 0));
  ASSERT_THAT(types(r), ElementsAre("CanaryStepReached"));
  EXPECT_EQ(r->at(0).payload().canary_step_reached().weight(), 50u);
  EXPECT_TRUE(r->at(0).payload().canary_step_reached().manual());
  EXPECT_EQ(r->at(0).payload().canary_step_reached().promoted_by(), "");
  // The same timer again, and a timer for the manual step: nothing.
  EXPECT_THAT(types(log.when(pause_over(canary_id, 0))), ElementsAre());
  EXPECT_THAT(types(log.when(pause_over(canary_id, 1))), ElementsAre());
  EXPECT_EQ(state().step, 1u);
}

TEST_F(Canary, PromotingTheManualStepReaches100AndTheCanaryBecomesStable) {
  ASSERT_TRUE(log.when(pause_over(canary_id, 0)));
  auto r = log.when(promote(), "bob");
  ASSERT_THAT(types(r), ElementsAre("CanaryPromoted"));
  EXPECT_EQ(r->at(0).payload().canary_promoted().version(), kV2);
  EXPECT_EQ(r->at(0).payload().canary_promoted().promoted_by(), "bob");
  CanaryState c = state();
  EXPECT_FALSE(c.active);
  EXPECT_EQ(c.stable_version, kV2);
  EXPECT_EQ(c.stable_url, "http://127.0.0.1:9002");
  EXPECT_EQ(c.finished.at(canary_id), "promoted");
  // The next canary runs beside v2.
  ASSERT_TRUE(log.when(deploy("r-3", kV3, true)));
  auto next = log.when(succeeded("r-3", "http://127.0.0.1:9001"));
  ASSERT_THAT(types(next), ElementsAre("DeploySucceeded", "CanaryStarted", "CanaryStepReached"));
  EXPECT_EQ(next->at(1).payload().canary_started().stable_version(), kV2);
}

TEST_F(Canary, PromoteMovesOneStepByHandAndFullGoesStraightTo100) {
  auto r = log.when(promote(), "bob");
  ASSERT_THAT(types(r), ElementsAre("CanaryStepReached"));
  EXPECT_EQ(r->at(0).payload().canary_step_reached().weight(), 50u);
  EXPECT_EQ(r->at(0).payload().canary_step_reached().promoted_by(), "bob");
  // The pause timer of step 0 fires late: the canary moved on, nothing happens.
  EXPECT_THAT(types(log.when(pause_over(canary_id, 0))), ElementsAre());
  EXPECT_THAT(types(log.when(promote(true, canary_id))), ElementsAre("CanaryPromoted"));
}

TEST_F(Canary, AbortByAUserKeepsTheStableVersionAndAllowsTheNextDeploy) {
  auto r = log.when(abort_by_user(), "bob");
  ASSERT_THAT(types(r), ElementsAre("CanaryAborted"));
  const auto& a = r->at(0).payload().canary_aborted();
  EXPECT_EQ(a.reason(), "aborted by bob");
  EXPECT_FALSE(a.automatic());
  EXPECT_EQ(a.weight(), 10u);
  EXPECT_EQ(a.version(), kV2);
  EXPECT_EQ(a.stable_version(), kV1);
  CanaryState c = state();
  EXPECT_FALSE(c.active);
  EXPECT_EQ(c.weight, 0u);
  EXPECT_EQ(c.stable_version, kV1);
  EXPECT_EQ(c.stable_url, "http://127.0.0.1:9001");
  EXPECT_THAT(types(log.when(deploy("r-3", kV3, true))), ElementsAre("DeployRequested"));
}

// What serves the environment, for its health probes and test cases: the
// canary while it runs and once promoted; after an abort, the stable again.
TEST_F(Canary, AnAbortedCanaryNoLongerServesAndHealthIsTheStableVersions) {
  auto env = [&] {
    std::string stream = environment_stream("shop", "prod");
    return *fold(stream, log.streams[stream]).environment();
  };
  auto health_of = [](const std::string& deploy_id) {
    ObserveHealth o;
    o.project_id = "shop";
    o.environment = "prod";
    o.deploy_id = deploy_id;
    o.samples.push_back({false, "connection refused"});
    return o;
  };
  ASSERT_NE(env().serving(), nullptr);
  EXPECT_EQ(env().serving()->url, "http://127.0.0.1:9002") << "a running canary is probed";
  ASSERT_THAT(types(log.when(abort_by_user(), "bob")), ElementsAre("CanaryAborted"));
  ASSERT_NE(env().serving(), nullptr);
  EXPECT_EQ(env().serving()->url, "http://127.0.0.1:9001");
  EXPECT_EQ(env().serving()->deploy_id, "r-1.prod");
  // The monitor's probe of the gone canary is stale; the stable's counts.
  auto stale = log.when(health_of("r-2.prod"));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Rejection::Code::kStale);
  EXPECT_THAT(types(log.when(health_of("r-1.prod"))), ElementsAre("HealthChanged"));
}

TEST_F(Canary, APromotedCanaryServes) {
  ASSERT_THAT(types(log.when(promote(true), "bob")), ElementsAre("CanaryPromoted"));
  std::string stream = environment_stream("shop", "prod");
  auto s = fold(stream, log.streams[stream]);
  ASSERT_NE(s.environment()->serving(), nullptr);
  EXPECT_EQ(s.environment()->serving()->url, "http://127.0.0.1:9002");
}

TEST_F(Canary, AnAutomaticAbortCarriesTheMeasuredFigures) {
  AbortCanary a = abort_by_user();
  a.automatic = true;
  a.canary_id = canary_id;
  a.figures.set_requests(200);
  a.figures.set_errors(24);
  a.figures.set_error_rate(0.12);
  a.figures.set_source("router");
  auto r = log.when(a, "system");
  ASSERT_THAT(types(r), ElementsAre("CanaryAborted"));
  const auto& e = r->at(0).payload().canary_aborted();
  EXPECT_TRUE(e.automatic());
  EXPECT_EQ(e.reason(), "canary error rate 12.0% over 5.0%");
  EXPECT_EQ(e.figures().requests(), 200u);
  EXPECT_EQ(e.figures().errors(), 24u);
  EXPECT_DOUBLE_EQ(e.figures().error_rate(), 0.12);
  // A late second verdict of the analysis is a no-op, not an error.
  EXPECT_THAT(types(log.when(a, "system")), ElementsAre());
}

TEST_F(Canary, InvalidTransitionsAreRefusedWithClearReasons) {
  auto deploying = log.when(deploy("r-3", kV3, false));
  ASSERT_FALSE(deploying);
  EXPECT_EQ(deploying.error().code, Rejection::Code::kInvalidTransition);
  EXPECT_EQ(deploying.error().reason,
            "canary " + canary_id + " (version " + kV2 +
                ") is in progress in prod of project shop; promote or abort it before deploying "
                "again");
  RequestRollback rb;
  rb.project_id = "shop";
  rb.environment = "prod";
  rb.target_version = kV1;
  auto rolling = log.when(rb);
  ASSERT_FALSE(rolling);
  EXPECT_THAT(rolling.error().reason, HasSubstr("abort it to return to the stable version"));

  auto unknown = log.when(promote(false, "c-nope"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Rejection::Code::kNotFound);
  EXPECT_EQ(unknown.error().reason, "no canary c-nope in prod of project shop");

  ASSERT_TRUE(log.when(promote(true)));
  auto again = log.when(abort_by_user());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Rejection::Code::kInvalidTransition);
  EXPECT_EQ(again.error().reason, "no canary is in progress in prod of project shop; cannot abort");
  AbortCanary late = abort_by_user();
  late.canary_id = canary_id;
  auto stale = log.when(late);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Rejection::Code::kStale);
  EXPECT_EQ(stale.error().reason,
            "canary " + canary_id + " in prod was already promoted; cannot abort");
}

TEST_F(Canary, ARollbackNeverGoesOutAsACanary) {
  ASSERT_TRUE(log.when(abort_by_user()));
  RequestRollback rb;
  rb.project_id = "shop";
  rb.environment = "prod";
  rb.target_version = kV2;  // the aborted canary's deploy, replayed whole
  auto r = log.when(rb);
  ASSERT_THAT(types(r), ElementsAre("RollbackRequested", "DeployRequested"));
  EXPECT_FALSE(r->at(1).payload().deploy_requested().spec().has_canary());
}

TEST(CanarySteps, AStepWithoutPauseMovesOnInTheSameAppend) {
  Log log;
  ASSERT_TRUE(log.when(deploy("r-1", kV1, false)));
  ASSERT_TRUE(log.when(succeeded("r-1", "http://127.0.0.1:9001")));
  RequestDeploy d = deploy("r-2", kV2, false);
  auto* s = d.spec.mutable_canary();
  s->add_steps()->set_weight(5);
  auto* second = s->add_steps();
  second->set_weight(20);
  second->set_pause_s(60);
  ASSERT_TRUE(log.when(d));
  auto r = log.when(succeeded("r-2", "http://127.0.0.1:9002"));
  ASSERT_THAT(types(r), ElementsAre("DeploySucceeded", "CanaryStarted", "CanaryStepReached",
                                    "CanaryStepReached"));
  EXPECT_EQ(r->at(3).payload().canary_step_reached().weight(), 20u);
  // The pause ends after the last step: promoted (the steps ran out before 100%).
  auto t = log.when(pause_over(canary_id_of("r-2.prod", 1), 1));
  EXPECT_THAT(types(t), ElementsAre("CanaryPromoted"));
}

TEST(CanaryManualDeploy, TheEnvironmentsStrategyApplies) {
  Log log;
  auto prod = environment("prod");
  *prod.mutable_canary() = strategy();
  ASSERT_TRUE(log.when(demo_project("shop", {prod})));
  RequestDeploy manual;
  manual.project_id = "shop";
  manual.environment = "prod";
  manual.spec.set_version("v1");
  manual.spec.set_artifact_digest(kV1);
  auto first = log.when(manual);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->at(0).payload().deploy_requested().spec().has_canary());  // no stable yet
  RecordDeployResult ok = succeeded("x", "http://127.0.0.1:9001");
  ok.deploy_id = first->at(0).payload().deploy_requested().deploy_id();
  ASSERT_TRUE(log.when(ok));
  manual.spec.set_version("v2");
  manual.spec.set_artifact_digest(kV2);
  auto second = log.when(manual);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at(0).payload().deploy_requested().spec().canary().steps_size(), 3);
}

// ---- the process manager's part ----

ProcessState folded(const Log& log) {
  ProcessState state;
  for (const auto& e : log.all) state.apply(e);
  return state;
}

std::vector<Reaction> react_to_last(const Log& log) {
  return react(folded(log), log.all.back());
}

TEST_F(Canary, EachStepMovesTrafficAndATimedPauseSchedulesItsTimer) {
  auto rs = react_to_last(log);
  ASSERT_EQ(rs.size(), 2u);
  const auto& t = std::get<SetCanaryTraffic>(rs[0]).traffic;
  EXPECT_EQ(t.phase, CanaryTraffic::Phase::kStep);
  EXPECT_EQ(t.weight, 10u);
  EXPECT_EQ(t.canary_url, "http://127.0.0.1:9002");
  EXPECT_EQ(t.stable_url, "http://127.0.0.1:9001");
  EXPECT_EQ(t.strategy.match().header(), "X-Canary");
  const auto& timer = std::get<ScheduleTimer>(rs[1]);
  EXPECT_EQ(timer.key, "canary/" + canary_id + "/1");
  EXPECT_EQ(timer.due_us, log.all.back().occurred_at_us() + 300'000'000);
  EXPECT_EQ(timer.expire.step, wharf::v1::STEP_KIND_CANARY);
  // Deciding the timer's command moves the canary on (the runtime's loop).
  auto next = log.execute(timer.expire, [&] {
    Context ctx = timer.context;
    ctx.now_us = timer.due_us;
    return ctx;
  }());
  EXPECT_THAT(types(next), ElementsAre("CanaryStepReached"));
  // A manual step moves traffic but schedules nothing.
  auto manual = react_to_last(log);
  ASSERT_EQ(manual.size(), 1u);
  EXPECT_EQ(std::get<SetCanaryTraffic>(manual[0]).traffic.weight, 50u);
}

TEST_F(Canary, AbortAndPromotionMoveTrafficAndRecoveryRestoresAnActiveCanary) {
  auto recovered = recover(folded(log));
  int traffic = 0, timers = 0;
  for (const auto& r : recovered) {
    if (const auto* t = std::get_if<SetCanaryTraffic>(&r)) {
      ++traffic;
      EXPECT_EQ(t->traffic.weight, 10u);
    }
    if (const auto* t = std::get_if<ScheduleTimer>(&r)) {
      timers += t->key == "canary/" + canary_id + "/1";
    }
  }
  EXPECT_EQ(traffic, 1);
  EXPECT_EQ(timers, 1);

  ASSERT_TRUE(log.when(abort_by_user()));
  auto rs = react_to_last(log);
  ASSERT_EQ(rs.size(), 1u);
  const auto& t = std::get<SetCanaryTraffic>(rs[0]).traffic;
  EXPECT_EQ(t.phase, CanaryTraffic::Phase::kAborted);
  EXPECT_EQ(t.weight, 0u);
  EXPECT_EQ(t.deploy_id, "r-2.prod");
  for (const auto& r : recover(folded(log)))
    EXPECT_FALSE(std::holds_alternative<SetCanaryTraffic>(r));
}

}  // namespace
}  // namespace wharf::engine::testing
