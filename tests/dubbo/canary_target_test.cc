// adapters/dubbo/canary_target.h on the in-memory rule store: what each step,
// abort and promotion leaves in the config center, the events it records (in
// order: a person's rule is snapshotted before it is overwritten), retries
// while the store is down, and finishing an abort after a restart from what
// the log says wharf owns.
#include "adapters/dubbo/canary_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/dubbo/memory_rule_store.h"
#include "tests/dubbo/provider_url.h"
#include "tests/targets/test_targets.h"

namespace wharf::dubbo {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Phase = engine::CanaryTraffic::Phase;
using namespace std::chrono_literals;
using wharf::dubbo::testing::provider;

const std::string kWeightPath = "/dubbo/config/dubbo/demo.Greeter::.configurators";
const std::string kTagPath = "/dubbo/config/dubbo/greeter.tag-router";
const std::string kUserRule =
    "configVersion: v3.0\nscope: service\nkey: demo.Greeter\nenabled: true\n"
    "configs:\n  - side: consumer\n    parameters:\n      timeout: 3000\n";

class DubboTarget : public ::testing::Test {
 protected:
  void SetUp() override {
    targets.zookeeper("zk", "zookeeper://zk1:2181,zk2:2181/wharf",
                      {{"username", "wharf"}, {"password", "pw-1"}});
    store = std::make_shared<MemoryRuleStore>();
    ASSERT_TRUE(
        store->create("/dubbo/demo.Greeter/providers/" + provider("198.51.100.10:20880", ""), ""));
    ASSERT_TRUE(store->create(
        "/dubbo/demo.Greeter/providers/" + provider("198.51.100.10:20881", "&env=canary"), ""));
    make_target();
  }
  void make_target(int tries = 3) {
    target.reset();
    DubboTargetOptions options;
    options.targets = &targets;
    options.retry = 10ms;
    options.max_retry = 20ms;
    options.tries = tries;
    target = std::make_unique<DubboCanaryTarget>(
        nullptr,
        [this](const engine::RecordDubboRule& cmd,
               const std::string& command_id) -> Expected<void, std::string> {
          std::lock_guard lock(mutex);
          EXPECT_EQ(cmd.project_id, "shop");
          recorded.push_back(cmd.rule);
          command_ids.push_back(command_id);
          return {};
        },
        options,
        [this](const ZookeeperOptions& o) -> std::shared_ptr<RuleStore> {
          std::lock_guard lock(mutex);
          sessions.push_back(o);
          return store;
        });
  }
  engine::CanaryTraffic traffic(Phase phase, uint32_t weight, const std::string& route = "weight") {
    engine::CanaryTraffic t;
    t.phase = phase;
    t.canary_id = "c-1";
    t.project_id = "shop";
    t.environment = "prod";
    t.deploy_id = "r-2.prod";
    t.attempt = 1;
    t.weight = weight;
    t.step = weight >= 50 ? 1 : 0;
    t.strategy.set_mode("dubbo");
    auto& s = *t.spec.mutable_target_settings();
    s["dubbo_config_center"] = "zk";
    s["dubbo_interface"] = "demo.Greeter";
    s["dubbo_application"] = "greeter";
    s["dubbo_route"] = route;
    return t;
  }
  void apply(const engine::CanaryTraffic& t) {
    target->set(t, [this](const engine::CanaryVerdict& v) {
      std::lock_guard lock(mutex);
      aborts.push_back(v.reason);
    });
    ASSERT_TRUE(target->wait_idle(std::chrono::steady_clock::now() + 5s));
  }
  std::vector<std::string> kinds() {
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    for (const auto& p : recorded) {
      out.push_back(p.has_dubbo_rule_written()       ? "written"
                    : p.has_dubbo_rule_snapshotted() ? "snapshotted"
                                                     : "removed");
    }
    return out;
  }
  int node_while_down_writes() { return store->writes() - 2; }  // less the two providers
  std::optional<Rule> node(const std::string& path) {
    auto r = store->get(path);
    EXPECT_TRUE(r);
    return r ? *r : std::nullopt;
  }

  targets::testing::TestTargets targets;
  std::shared_ptr<MemoryRuleStore> store;
  std::vector<ZookeeperOptions> sessions;  // the stores opened, in order
  std::unique_ptr<DubboCanaryTarget> target;
  std::mutex mutex;
  std::vector<wharf::v1::Payload> recorded;
  std::vector<std::string> command_ids;
  std::vector<std::string> aborts;
};

TEST_F(DubboTarget, EachStepWritesTheWeightRuleByCompareAndSetAndRecordsIt) {
  apply(traffic(Phase::kStep, 25));
  auto rule = node(kWeightPath);
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->version, 0);
  EXPECT_THAT(rule->data, HasSubstr("\"198.51.100.10:20881\""));
  EXPECT_THAT(rule->data, HasSubstr("weight: 33\n"));
  EXPECT_THAT(rule->data, ::testing::Not(HasSubstr("20880")));
  ASSERT_THAT(kinds(), ElementsAre("written"));
  const auto& w = recorded[0].dubbo_rule_written();
  EXPECT_EQ(w.path(), kWeightPath);
  EXPECT_EQ(w.kind(), "configurators");
  EXPECT_EQ(w.yaml(), rule->data);  // the exact bytes
  EXPECT_EQ(w.znode_version(), 0);
  EXPECT_EQ(w.share(), 25u);
  EXPECT_EQ(w.weight(), 33u);
  EXPECT_EQ(w.stable_instances(), 1u);
  EXPECT_THAT(w.canary_addresses(), ElementsAre("198.51.100.10:20881"));

  apply(traffic(Phase::kStep, 50));
  EXPECT_EQ(node(kWeightPath)->version, 1);
  EXPECT_THAT(node(kWeightPath)->data, HasSubstr("weight: 100\n"));
  ASSERT_THAT(kinds(), ElementsAre("written", "written"));
  EXPECT_EQ(recorded[1].dubbo_rule_written().znode_version(), 1);
  EXPECT_TRUE(aborts.empty());
}

TEST_F(DubboTarget, TheConfigCenterIsTheZookeeperTargetTheEnvironmentNames) {
  apply(traffic(Phase::kStep, 25));
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].connect, "zk1:2181,zk2:2181/wharf");
  EXPECT_EQ(sessions[0].digest, "wharf:pw-1");
  apply(traffic(Phase::kStep, 50));
  EXPECT_EQ(sessions.size(), 1u);  // the same session for the next step
}

TEST_F(DubboTarget, AnEnvironmentNamingNoZookeeperTargetFailsTheStepSayingSo) {
  auto none = traffic(Phase::kStep, 25);
  none.spec.mutable_target_settings()->erase("dubbo_config_center");
  apply(none);
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_THAT(aborts[0], HasSubstr("settings.dubbo_config_center"));
  targets.kubernetes("k8s", "https://k8s:6443", "", "t");
  auto wrong = traffic(Phase::kStep, 25);
  (*wrong.spec.mutable_target_settings())["dubbo_config_center"] = "k8s";
  apply(wrong);
  ASSERT_EQ(aborts.size(), 2u);
  EXPECT_THAT(aborts[1], HasSubstr("not a ZooKeeper config center target"));
  EXPECT_FALSE(node(kWeightPath));
}

TEST_F(DubboTarget, AfterARotationTheNextStepTakesOverTheNodeUnderTheNewIdentity) {
  apply(traffic(Phase::kStep, 25));
  targets.zookeeper("zk", "zookeeper://zk1:2181,zk2:2181/wharf",
                    {{"username", "wharf"}, {"password", "pw-2"}});
  store->guard(kWeightPath);  // its ACL names the identity of pw-1
  apply(traffic(Phase::kStep, 50));
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[1].digest, "wharf:pw-2");
  EXPECT_THAT(node(kWeightPath)->data, HasSubstr("weight: 100\n"));
  ASSERT_THAT(kinds(), ElementsAre("written", "written"));
  EXPECT_EQ(recorded[1].dubbo_rule_written().znode_version(), 0);  // created again
  // Recorded under its own command id (the bus keeps one event per id).
  EXPECT_NE(command_ids[1], command_ids[0]);
  EXPECT_TRUE(aborts.empty());
}

TEST_F(DubboTarget, AnEarlierPromotedCanaryStillLabelledCountsAsStable) {
  // Started by wharf for another deploy (promoted since), it keeps the label.
  ASSERT_TRUE(
      store->create("/dubbo/demo.Greeter/providers/" +
                        provider("198.51.100.10:20882", "&env=canary&wharf_deploy=r-1.prod"),
                    ""));
  ASSERT_TRUE(
      store->create("/dubbo/demo.Greeter/providers/" +
                        provider("198.51.100.10:20883", "&env=canary&wharf_deploy=r-2.prod"),
                    ""));
  apply(traffic(Phase::kStep, 25));
  ASSERT_THAT(kinds(), ElementsAre("written"));
  const auto& w = recorded[0].dubbo_rule_written();
  EXPECT_THAT(w.canary_addresses(), ElementsAre("198.51.100.10:20881", "198.51.100.10:20883"));
  EXPECT_EQ(w.stable_instances(), 2u);
  EXPECT_EQ(w.weight(), 33u);  // 25·2·100 / (75·2)
}

TEST_F(DubboTarget, TheTagRouteWritesATagRuleNamingTheFlag) {
  apply(traffic(Phase::kStep, 10, "tag"));
  auto rule = node(kTagPath);
  ASSERT_TRUE(rule);
  EXPECT_THAT(rule->data, HasSubstr("name: \"canary\""));
  EXPECT_THAT(rule->data, HasSubstr("force: true"));
  ASSERT_THAT(kinds(), ElementsAre("written"));
  EXPECT_EQ(recorded[0].dubbo_rule_written().flag(), "canary");
  EXPECT_EQ(recorded[0].dubbo_rule_written().kind(), "tag-router");
}

TEST_F(DubboTarget, AbortDeletesWharfsRule) {
  apply(traffic(Phase::kStep, 25));
  apply(traffic(Phase::kAborted, 0));
  EXPECT_FALSE(node(kWeightPath));
  ASSERT_THAT(kinds(), ElementsAre("written", "removed"));
  const auto& r = recorded[1].dubbo_rule_removed();
  EXPECT_EQ(r.znode_version(), 0);
  EXPECT_FALSE(r.restored());
  EXPECT_EQ(r.reason(), "aborted");
}

TEST_F(DubboTarget, APersonsRuleIsSnapshottedBeforeTheWriteAndPutBackByteForByte) {
  ASSERT_TRUE(store->create(kWeightPath, kUserRule));
  ASSERT_TRUE(store->set(kWeightPath, kUserRule, 0));  // version 1
  apply(traffic(Phase::kStep, 25));
  ASSERT_THAT(kinds(), ElementsAre("snapshotted", "written"));
  EXPECT_EQ(recorded[0].dubbo_rule_snapshotted().yaml(), kUserRule);
  EXPECT_EQ(recorded[0].dubbo_rule_snapshotted().znode_version(), 1);
  EXPECT_EQ(node(kWeightPath)->version, 2);
  apply(traffic(Phase::kAborted, 0));
  auto back = node(kWeightPath);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data, kUserRule);
  ASSERT_THAT(kinds(), ElementsAre("snapshotted", "written", "removed"));
  EXPECT_TRUE(recorded[2].dubbo_rule_removed().restored());
  EXPECT_EQ(recorded[2].dubbo_rule_removed().restored_yaml(), kUserRule);
}

TEST_F(DubboTarget, APersonsRuleWithRefuseStopsTheStepAndAbortsTheCanary) {
  ASSERT_TRUE(store->create(kWeightPath, kUserRule));
  auto t = traffic(Phase::kStep, 25);
  (*t.spec.mutable_target_settings())["dubbo_user_rule"] = "refuse";
  apply(t);
  EXPECT_EQ(node(kWeightPath)->data, kUserRule);
  EXPECT_TRUE(kinds().empty());
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_THAT(aborts[0], HasSubstr("dubbo_user_rule"));
}

TEST_F(DubboTarget, NoCanaryInstanceRegisteredIsAnErrorThatAbortsAfterItsTries) {
  auto t = traffic(Phase::kStep, 25);
  (*t.spec.mutable_target_settings())["dubbo_canary_label"] = "env=blue";
  apply(t);
  EXPECT_FALSE(node(kWeightPath));
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_THAT(aborts[0], HasSubstr("labelled env=blue"));
}

TEST_F(DubboTarget, AStoreDownMidStepIsRetriedAndLeavesNoHalfRule) {
  make_target(1000);  // the step keeps trying until the store is back
  apply(traffic(Phase::kStep, 25));
  store->set_unavailable(true);
  target->set(traffic(Phase::kStep, 50), [](const engine::CanaryVerdict&) {});
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (target->last_error("shop", "prod").empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_THAT(target->last_error("shop", "prod"), HasSubstr("unavailable"));
  EXPECT_EQ(node_while_down_writes(), 1);  // only the first step's write went through
  store->set_unavailable(false);
  ASSERT_TRUE(target->wait_idle(std::chrono::steady_clock::now() + 5s));
  EXPECT_THAT(node(kWeightPath)->data, HasSubstr("weight: 100\n"));
  EXPECT_EQ(node(kWeightPath)->version, 1);
  EXPECT_THAT(kinds(), ElementsAre("written", "written"));
}

TEST_F(DubboTarget, AfterARestartAnAbortFindsTheRuleFromTheLogAndRemovesItOnce) {
  apply(traffic(Phase::kStep, 25));
  const auto& w = recorded[0].dubbo_rule_written();
  engine::DubboRuleState owned{w.canary_id(), w.kind(), w.yaml(), w.znode_version(), false, "", 0};
  // A new process: it knows only what the log says.
  make_target();
  auto t = traffic(Phase::kAborted, 0);
  t.dubbo_rules[kWeightPath] = owned;
  apply(t);
  EXPECT_FALSE(node(kWeightPath));
  ASSERT_THAT(kinds(), ElementsAre("written", "removed"));
  // Recovery issuing the abort once more finds nothing to remove and records
  // the same fact under the same command id (the engine keeps one).
  apply(t);
  ASSERT_THAT(kinds(), ElementsAre("written", "removed", "removed"));
  EXPECT_EQ(recorded[2].dubbo_rule_removed().znode_version(), -1);
  const int writes = store->writes();
  apply(traffic(Phase::kAborted, 0));
  EXPECT_EQ(store->writes(), writes);
}

TEST_F(DubboTarget, ARuleWrittenButNotRecordedBeforeACrashIsStillRemovedOnAbort) {
  ASSERT_TRUE(store->create(kWeightPath, owner_line("c-1") + "configVersion: v3.0\n"));
  apply(traffic(Phase::kAborted, 0));
  EXPECT_FALSE(node(kWeightPath));
}

TEST_F(DubboTarget, ARestoredRuleAfterACrashIsRecordedAsRestoredWithoutWriting) {
  ASSERT_TRUE(store->create(kWeightPath, kUserRule));
  auto t = traffic(Phase::kAborted, 0);
  t.dubbo_rules[kWeightPath] =
      engine::DubboRuleState{"c-1", "configurators", "x", 1, true, kUserRule, 0};
  const int writes = store->writes();
  apply(t);
  EXPECT_EQ(store->writes(), writes);
  ASSERT_THAT(kinds(), ElementsAre("removed"));
  EXPECT_TRUE(recorded[0].dubbo_rule_removed().restored());
}

TEST_F(DubboTarget, AnUnhealthyCanaryInstanceIsAbortedByTheAnalysis) {
  auto t = traffic(Phase::kStep, 25);
  t.strategy.mutable_analysis()->set_check_health(true);
  t.strategy.mutable_analysis()->set_interval_s(1);
  t.spec.set_health_path("/");
  t.canary_url = "http://127.0.0.1:1";  // nothing answers there
  apply(t);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex);
      if (!aborts.empty()) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  std::lock_guard lock(mutex);
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_THAT(aborts[0], HasSubstr("health"));
}

TEST_F(DubboTarget, APromotionRemovesTheRule) {
  apply(traffic(Phase::kStep, 25));
  apply(traffic(Phase::kPromoted, 100));
  EXPECT_FALSE(node(kWeightPath));
  ASSERT_THAT(kinds(), ElementsAre("written", "removed"));
  EXPECT_EQ(recorded[1].dubbo_rule_removed().reason(), "promoted");
}

}  // namespace
}  // namespace wharf::dubbo
