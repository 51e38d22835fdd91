// Dubbo canaries (engine/canary.h, docs/canary.md#dubbo): given a canary on an
// environment stream, when the Dubbo target records a rule it wrote,
// snapshotted or removed, then the event (or nothing, for a repeat) and the
// rules the environment owns; and the process manager finishing an abort
// whose rules outlived a restart.
#include "engine/canary_reactor.h"
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kPath = "/dubbo/config/dubbo/demo.Greeter::.configurators";
const std::string kUserRule = "configVersion: v3.0\nscope: service\nkey: demo.Greeter\n";

RecordDeployResult succeeded(const std::string& run_id) {
  RecordDeployResult r;
  r.project_id = "shop";
  r.environment = "prod";
  r.deploy_id = run_id + ".prod";
  r.attempt = 1;
  r.succeeded = true;
  r.url = "http://127.0.0.1:9001";
  return r;
}

RecordDubboRule written(const std::string& canary_id, const std::string& yaml, int32_t version,
                        uint32_t share = 25) {
  RecordDubboRule r{"shop", "prod", {}};
  auto* w = r.rule.mutable_dubbo_rule_written();
  w->set_canary_id(canary_id);
  w->set_path(kPath);
  w->set_kind("configurators");
  w->set_yaml(yaml);
  w->set_znode_version(version);
  w->set_share(share);
  w->set_weight(33);
  return r;
}

RecordDubboRule snapshotted(const std::string& canary_id) {
  RecordDubboRule r{"shop", "prod", {}};
  auto* s = r.rule.mutable_dubbo_rule_snapshotted();
  s->set_canary_id(canary_id);
  s->set_path(kPath);
  s->set_yaml(kUserRule);
  s->set_znode_version(4);
  return r;
}

RecordDubboRule removed(const std::string& canary_id, int32_t version) {
  RecordDubboRule r{"shop", "prod", {}};
  auto* m = r.rule.mutable_dubbo_rule_removed();
  m->set_canary_id(canary_id);
  m->set_path(kPath);
  m->set_kind("configurators");
  m->set_znode_version(version);
  m->set_reason("aborted");
  return r;
}

AbortCanary abort_by_user() {
  AbortCanary a;
  a.project_id = "shop";
  a.environment = "prod";
  return a;
}

ProcessState folded(const Log& log) {
  ProcessState state;
  for (const auto& e : log.all) state.apply(e);
  return state;
}

class DubboCanary : public ::testing::Test {
 protected:
  // Given: v1 serves prod; v2 goes out as a Dubbo canary and is at 25%.
  void SetUp() override {
    ASSERT_TRUE(log.when(dubbo_prod_deploy("r-1", "v1", false)));
    ASSERT_TRUE(log.when(succeeded("r-1")));
    ASSERT_TRUE(log.when(dubbo_prod_deploy("r-2", "v2", true)));
    ASSERT_TRUE(log.when(succeeded("r-2")));
    canary_id = canary_id_of("r-2.prod", 1);
  }
  CanaryState state() {
    std::string stream = environment_stream("shop", "prod");
    return fold(stream, log.streams[stream]).environment()->canary;
  }
  Log log;
  std::string canary_id;
};

TEST_F(DubboCanary, AWrittenRuleIsAnEventWithItsPathYamlVersionAndShare) {
  auto r = log.when(written(canary_id, "# wharf canary x\nweight: 33\n", 0));
  ASSERT_THAT(types(r), ElementsAre("DubboRuleWritten"));
  const auto& w = r->at(0).payload().dubbo_rule_written();
  EXPECT_EQ(w.path(), kPath);
  EXPECT_EQ(w.yaml(), "# wharf canary x\nweight: 33\n");
  EXPECT_EQ(w.znode_version(), 0);
  EXPECT_EQ(w.share(), 25u);
  EXPECT_EQ(w.project_id(), "shop");
  EXPECT_EQ(r->at(0).correlation_id(), canary_id);
  ASSERT_EQ(state().dubbo_rules.count(kPath), 1u);
  EXPECT_EQ(state().dubbo_rules.at(kPath).version, 0);
}

TEST_F(DubboCanary, TheSameWriteRecordedTwiceIsOneEvent) {
  ASSERT_TRUE(log.when(written(canary_id, "a", 1)));
  EXPECT_THAT(types(log.when(written(canary_id, "a", 1))), ElementsAre());
  // The next step's overwrite is a new fact.
  EXPECT_THAT(types(log.when(written(canary_id, "b", 2, 50))), ElementsAre("DubboRuleWritten"));
  EXPECT_EQ(state().dubbo_rules.at(kPath).yaml, "b");
}

TEST_F(DubboCanary, ASnapshotIsKeptOnceAndSurvivesTheWritesAfterIt) {
  EXPECT_THAT(types(log.when(snapshotted(canary_id))), ElementsAre("DubboRuleSnapshotted"));
  EXPECT_THAT(types(log.when(snapshotted(canary_id))), ElementsAre());
  ASSERT_TRUE(log.when(written(canary_id, "ours", 5)));
  const CanaryState folded_state = state();
  const auto& r = folded_state.dubbo_rules.at(kPath);
  EXPECT_TRUE(r.has_snapshot);
  EXPECT_EQ(r.snapshot_yaml, kUserRule);
  EXPECT_EQ(r.snapshot_version, 4);
  EXPECT_EQ(r.version, 5);
}

TEST_F(DubboCanary, ARuleOfAnUnknownCanaryIsRefused) {
  EXPECT_THAT(types(log.when(written("c-nope", "a", 0))),
              ElementsAre(HasSubstr("no canary c-nope")));
}

TEST_F(DubboCanary, AWriteInFlightWhenAUserAbortedIsStillRecordedSoItsRemovalFindsIt) {
  ASSERT_TRUE(log.when(abort_by_user()));
  EXPECT_THAT(types(log.when(written(canary_id, "a", 0))), ElementsAre("DubboRuleWritten"));
  EXPECT_EQ(state().dubbo_rules.size(), 1u);
}

TEST_F(DubboCanary, ARemovalIsRecordedOnceAndOnlyForARuleWharfOwns) {
  EXPECT_THAT(types(log.when(removed(canary_id, 0))), ElementsAre());  // owns nothing yet
  ASSERT_TRUE(log.when(written(canary_id, "a", 0)));
  EXPECT_THAT(types(log.when(removed(canary_id, 0))), ElementsAre("DubboRuleRemoved"));
  EXPECT_THAT(types(log.when(removed(canary_id, 0))), ElementsAre());
  EXPECT_TRUE(state().dubbo_rules.empty());
}

TEST_F(DubboCanary, TheTrafficOfAStepCarriesTheRulesTheLogSaysWharfOwns) {
  ASSERT_TRUE(log.when(written(canary_id, "a", 3)));
  auto rs = recover(folded(log));
  ASSERT_EQ(rs.size(), 1u);
  const auto& t = std::get<SetCanaryTraffic>(rs[0]).traffic;
  EXPECT_EQ(t.phase, CanaryTraffic::Phase::kStep);
  EXPECT_EQ(t.weight, 25u);
  EXPECT_EQ(t.strategy.mode(), "dubbo");
  ASSERT_EQ(t.dubbo_rules.count(kPath), 1u);
  EXPECT_EQ(t.dubbo_rules.at(kPath).version, 3);
}

TEST_F(DubboCanary, AfterARestartAnAbortWhoseRuleIsStillOwnedIsFinishedOnce) {
  ASSERT_TRUE(log.when(written(canary_id, "a", 3)));
  ASSERT_TRUE(log.when(abort_by_user()));
  // wharf stopped before the rule was removed: recovery issues the abort again.
  auto rs = recover(folded(log));
  ASSERT_EQ(rs.size(), 1u);
  const auto& t = std::get<SetCanaryTraffic>(rs[0]).traffic;
  EXPECT_EQ(t.phase, CanaryTraffic::Phase::kAborted);
  EXPECT_EQ(t.canary_id, canary_id);
  EXPECT_EQ(t.deploy_id, "r-2.prod");
  EXPECT_EQ(t.dubbo_rules.count(kPath), 1u);
  // Once the removal is recorded, a further restart has nothing to finish.
  ASSERT_TRUE(log.when(removed(canary_id, 3)));
  EXPECT_TRUE(recover(folded(log)).empty());
}

TEST_F(DubboCanary, APromotionWhoseRuleOutlivedARestartIsFinishedAsAPromotion) {
  ASSERT_TRUE(log.when(written(canary_id, "a", 3)));
  ASSERT_TRUE(log.when(PromoteCanary{"shop", "prod", "", true}));
  auto rs = recover(folded(log));
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(std::get<SetCanaryTraffic>(rs[0]).traffic.phase, CanaryTraffic::Phase::kPromoted);
}

TEST_F(DubboCanary, ACommandWithoutADubboEventIsRefused) {
  EXPECT_THAT(types(log.when(RecordDubboRule{"shop", "prod", {}})),
              ElementsAre(HasSubstr("no Dubbo rule event")));
}

}  // namespace
}  // namespace wharf::engine::testing
