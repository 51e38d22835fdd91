// Dubbo canaries against real peers (label "dubbo"): ZooKeeper 3.9.5 and
// Dubbo 3.3.6 providers and a consumer (tests/peers/dubbo, compiled with
// javac in the set-up) inside a network namespace this binary makes. wharf's
// DubboCanaryTarget writes its rules through the real ZooKeeper client; the
// consumer's calls show what the rules do. The peers start once for the
// binary (2-core machine); the tests run in order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "adapters/dubbo/canary_target.h"
#include "adapters/dubbo/zookeeper_rule_store.h"
#include "tests/dubbo/dubbo_peers.h"
#include "tests/targets/test_targets.h"

namespace wharf::dubbo::testing {
namespace {

using ::testing::HasSubstr;
using Phase = engine::CanaryTraffic::Phase;

const std::string kWeightPath = "/dubbo/config/dubbo/demo.Greeter::.configurators";
const std::string kTagPath = "/dubbo/config/dubbo/greeter.tag-router";
// A person's rule at wharf's path (a consumer-side timeout: no effect on the split).
const std::string kUserRule =
    "# set by ops, 2026-12-01\n"
    "configVersion: v3.0\n"
    "scope: service\n"
    "key: demo.Greeter\n"
    "enabled: true\n"
    "configs:\n"
    "  - side: consumer\n"
    "    parameters:\n"
    "      timeout: 3000\n";

const targets::CredentialFields kWharfCredential{{"username", "wharf"}, {"password", "zk-pw-1"}};

DubboPeers* peers = nullptr;

class PeersEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const fs::path dir = fs::temp_directory_path() / ("wharf-dubbo-" + std::to_string(::getpid()));
    owned_ = std::make_unique<DubboPeers>(dir);
    peers = owned_.get();
    peers->start_provider("stable", 20880, false);
    peers->start_provider("canary", 20881, true);
    // Both providers registered and seen by the consumer.
    ASSERT_TRUE(
        peers->until_split([](const Split& s) { return s.canary > 0 && s.stable > 0; }, 90s, 20))
        << peers->log_tail("stable") << peers->log_tail("canary") << peers->log_tail("consumer");
  }
  void TearDown() override {
    peers = nullptr;
    owned_.reset();
  }

 private:
  std::unique_ptr<DubboPeers> owned_;
};

class DubboPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(peers, nullptr);
    // The config center is a target with a digest credential: wharf's rule
    // nodes are readable by anyone (the consumer has no credential) and
    // changeable by wharf's identity only.
    targets.zookeeper("zk", "zookeeper://" + peers->zookeeper(), kWharfCredential);
    store = std::make_shared<ZookeeperRuleStore>(
        ZookeeperOptions{peers->zookeeper(), "wharf:" + kWharfCredential.at("password")});
    anonymous = std::make_shared<ZookeeperRuleStore>(ZookeeperOptions{peers->zookeeper(), ""});
    make_target();
  }
  void TearDown() override {
    target.reset();
    // No rule outlives a test.
    for (const auto& path : {kWeightPath, kTagPath}) {
      if (auto r = store->get(path); r && *r) (void)store->remove(path, (*r)->version);
    }
  }
  void make_target() {
    target.reset();
    DubboTargetOptions options;
    options.targets = &targets;
    options.retry = 200ms;
    options.max_retry = 1s;
    options.tries = 30;
    target = std::make_unique<DubboCanaryTarget>(
        nullptr,
        [this](const engine::RecordDubboRule& cmd,
               const std::string&) -> Expected<void, std::string> {
          std::lock_guard lock(mutex);
          recorded.push_back(cmd.rule);
          return {};
        },
        options);
  }
  engine::CanaryTraffic traffic(Phase phase, uint32_t weight, const std::string& route = "weight") {
    engine::CanaryTraffic t;
    t.phase = phase;
    t.canary_id = "c-peers";
    t.project_id = "shop";
    t.environment = "prod";
    t.deploy_id = "r-2.prod";
    t.attempt = 1;
    t.step = weight >= 50 ? 1 : 0;
    t.weight = weight;
    t.strategy.set_mode("dubbo");
    (*t.spec.mutable_target_settings())["dubbo_config_center"] = "zk";
    auto& s = *t.spec.mutable_target_settings();
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
    ASSERT_TRUE(target->wait_idle(std::chrono::steady_clock::now() + 60s));
  }
  std::optional<Rule> node(const std::string& path) {
    auto r = store->get(path);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : std::nullopt;
  }
  size_t count(wharf::v1::Payload::KindCase kind) {
    std::lock_guard lock(mutex);
    size_t n = 0;
    for (const auto& p : recorded) n += p.kind_case() == kind;
    return n;
  }
  // `ok` holds for two windows of 200 calls in a row, within 20 s.
  template <typename Ok>
  bool settled(Ok ok) {
    int in_a_row = 0;
    return peers->until_split(
        [&](const Split& s) { return (in_a_row = ok(s) ? in_a_row + 1 : 0) >= 2; }, 20s, 200);
  }
  bool near_even(const Split& s) {
    return s.errors == 0 && s.canary_share() > 0.4 && s.canary_share() < 0.6;
  }

  targets::testing::TestTargets targets;
  std::shared_ptr<ZookeeperRuleStore> store;      // wharf's identity
  std::shared_ptr<ZookeeperRuleStore> anonymous;  // no credential, like the consumer
  std::unique_ptr<DubboCanaryTarget> target;
  std::mutex mutex;
  std::vector<wharf::v1::Payload> recorded;
  std::vector<std::string> aborts;
};

TEST_F(DubboPeersTest, WithNoRuleTheCallsSplitAboutEvenly) {
  Split s = peers->calls(1000);
  EXPECT_EQ(s.errors, 0);
  EXPECT_EQ(s.total(), 1000);
  EXPECT_GT(s.canary_share(), 0.4) << s.canary << "/" << s.total();
  EXPECT_LT(s.canary_share(), 0.6) << s.canary << "/" << s.total();
}

TEST_F(DubboPeersTest, AQuarterStepSendsAQuarterOfTheCallsAndAbortReturnsToTheBaseline) {
  apply(traffic(Phase::kStep, 25));
  auto rule = node(kWeightPath);
  ASSERT_TRUE(rule);
  EXPECT_THAT(rule->data, HasSubstr("\"198.51.100.10:20881\""));
  EXPECT_THAT(rule->data, HasSubstr("weight: 33\n"));
  ASSERT_EQ(count(wharf::v1::Payload::kDubboRuleWritten), 1u);
  EXPECT_EQ(recorded[0].dubbo_rule_written().yaml(), rule->data);
  EXPECT_EQ(recorded[0].dubbo_rule_written().znode_version(), rule->version);
  // Consumers see the rule within a moment (two windows in a row under 36 %);
  // then 1,000 untagged calls.
  ASSERT_TRUE(settled([](const Split& s) { return s.canary_share() < 0.36; }));
  Split s = peers->calls(1000);
  EXPECT_EQ(s.errors, 0);
  EXPECT_GE(s.canary_share(), 0.18) << s.canary << "/" << s.total();
  EXPECT_LE(s.canary_share(), 0.32) << s.canary << "/" << s.total();

  apply(traffic(Phase::kAborted, 0));
  EXPECT_FALSE(node(kWeightPath));
  EXPECT_EQ(count(wharf::v1::Payload::kDubboRuleRemoved), 1u);
  ASSERT_TRUE(peers->until_split([&](const Split& w) { return w.canary_share() > 0.4; }, 20s));
  EXPECT_TRUE(near_even(peers->calls(1000)));
  EXPECT_TRUE(aborts.empty());
}

TEST_F(DubboPeersTest, UnderTheTagRuleTaggedCallsAllReachTheCanaryAndUntaggedNone) {
  apply(traffic(Phase::kStep, 10, "tag"));
  ASSERT_TRUE(node(kTagPath));
  ASSERT_TRUE(
      peers->until_split([](const Split& s) { return s.canary == 0 && s.errors == 0; }, 20s));
  Split untagged = peers->calls(500);
  Split tagged = peers->calls(500, "canary");
  EXPECT_EQ(untagged.canary, 0);
  EXPECT_EQ(untagged.stable, 500);
  EXPECT_EQ(tagged.canary, 500);
  EXPECT_EQ(tagged.stable, 0);
  EXPECT_EQ(tagged.errors, 0);
  apply(traffic(Phase::kAborted, 0, "tag"));
  EXPECT_FALSE(node(kTagPath));
  ASSERT_TRUE(peers->until_split([&](const Split& w) { return w.canary_share() > 0.4; }, 20s));
}

TEST_F(DubboPeersTest, APersonsRuleIsBackByteForByteAfterTheAbort) {
  auto created = store->create(kWeightPath, kUserRule);
  ASSERT_TRUE(created) << created.error().message;
  apply(traffic(Phase::kStep, 25));
  ASSERT_EQ(count(wharf::v1::Payload::kDubboRuleSnapshotted), 1u);
  EXPECT_EQ(recorded[0].dubbo_rule_snapshotted().yaml(), kUserRule);
  EXPECT_THAT(node(kWeightPath)->data, HasSubstr("weight: 33"));
  ASSERT_TRUE(settled([](const Split& s) { return s.canary_share() < 0.36; }));
  apply(traffic(Phase::kAborted, 0));
  auto back = node(kWeightPath);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data, kUserRule);
  ASSERT_TRUE(peers->until_split([&](const Split& w) { return w.canary_share() > 0.4; }, 20s));
}

TEST_F(DubboPeersTest, ZooKeeperStoppedMidStepIsAClearErrorRetriedWithNoHalfRule) {
  apply(traffic(Phase::kStep, 25));
  const int32_t before = node(kWeightPath)->version;
  peers->stop_zookeeper();
  target->set(traffic(Phase::kStep, 50), [this](const engine::CanaryVerdict& v) {
    std::lock_guard lock(mutex);
    aborts.push_back(v.reason);
  });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (target->last_error("shop", "prod").empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_THAT(target->last_error("shop", "prod"), HasSubstr("ZooKeeper " + peers->zookeeper()));
  EXPECT_EQ(count(wharf::v1::Payload::kDubboRuleWritten), 1u);  // the 50% step is not recorded
  peers->start_zookeeper();
  ASSERT_TRUE(target->wait_idle(std::chrono::steady_clock::now() + 60s));
  auto rule = node(kWeightPath);
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->version, before + 1);  // one write: the whole 50% rule
  EXPECT_THAT(rule->data, HasSubstr("weight: 100\n"));
  ASSERT_EQ(count(wharf::v1::Payload::kDubboRuleWritten), 2u);
  EXPECT_EQ(recorded[1].dubbo_rule_written().yaml(), rule->data);
  EXPECT_TRUE(aborts.empty());
  apply(traffic(Phase::kAborted, 0));
  EXPECT_FALSE(node(kWeightPath));
}

TEST_F(DubboPeersTest, ANewProcessFinishesTheAbortFromWhatTheLogSaysItOwns) {
  apply(traffic(Phase::kStep, 25));
  ASSERT_EQ(count(wharf::v1::Payload::kDubboRuleWritten), 1u);
  const auto w = recorded[0].dubbo_rule_written();
  // The process ends between two steps; the next knows only the log.
  make_target();
  auto t = traffic(Phase::kAborted, 0);
  t.dubbo_rules[w.path()] =
      engine::DubboRuleState{w.canary_id(), w.kind(), w.yaml(), w.znode_version(), false, "", 0};
  apply(t);
  EXPECT_FALSE(node(kWeightPath));
  EXPECT_EQ(count(wharf::v1::Payload::kDubboRuleRemoved), 1u);
  ASSERT_TRUE(peers->until_split([&](const Split& s) { return s.canary_share() > 0.4; }, 20s));
}

TEST_F(DubboPeersTest, WharfsRulesCarryItsDigestAclAnyoneReadsThemOnlyWharfChangesThem) {
  apply(traffic(Phase::kStep, 25));
  auto acl = store->acl(kWeightPath);
  ASSERT_TRUE(acl) << acl.error().message;
  EXPECT_THAT(*acl, ::testing::UnorderedElementsAre(
                        "world:anyone:r", "digest:" + digest_identity("wharf:zk-pw-1") + ":rwcda"));
  // A client without credential (as the Dubbo consumer is) reads the rule...
  auto read = anonymous->get(kWeightPath);
  ASSERT_TRUE(read && *read);
  EXPECT_THAT((*read)->data, HasSubstr("weight: 33"));
  // ...and cannot overwrite it.
  auto overwrite = anonymous->set(kWeightPath, "configVersion: v3.0\n", (*read)->version);
  ASSERT_FALSE(overwrite);
  EXPECT_EQ(overwrite.error().code, StoreError::Code::kNotAllowed) << overwrite.error().message;
  EXPECT_EQ(node(kWeightPath)->data, (*read)->data);
  // The consumer follows the rule it reads without credential.
  ASSERT_TRUE(
      settled([](const Split& s) { return s.canary_share() > 0.18 && s.canary_share() < 0.32; }));
  apply(traffic(Phase::kAborted, 0));
  EXPECT_FALSE(node(kWeightPath));
}

TEST_F(DubboPeersTest,
       AfterARotationTheNextStepWritesUnderTheNewCredentialAndTheOldOneIsLockedOut) {
  apply(traffic(Phase::kStep, 25));
  ASSERT_TRUE(settled([](const Split& s) { return s.canary_share() < 0.36; }));
  // The target's credential rotates (a new sealed version; the old one is gone).
  targets.zookeeper("zk", "zookeeper://" + peers->zookeeper(),
                    {{"username", "wharf"}, {"password", "zk-pw-2"}});
  apply(traffic(Phase::kStep, 50));
  EXPECT_TRUE(aborts.empty()) << aborts.front();
  auto rule = node(kWeightPath);
  ASSERT_TRUE(rule);
  EXPECT_THAT(rule->data, HasSubstr("weight: 100\n"));
  ASSERT_EQ(count(wharf::v1::Payload::kDubboRuleWritten), 2u);
  EXPECT_EQ(recorded.back().dubbo_rule_written().znode_version(), rule->version);
  EXPECT_EQ(recorded.back().dubbo_rule_written().yaml(), rule->data);
  // (ZooKeeper shows an ACL's digest only to a client holding ADMIN on the
  // node, "wharf:x" to others: read it as the new identity.)
  ZookeeperRuleStore rotated(ZookeeperOptions{peers->zookeeper(), "wharf:zk-pw-2"});
  auto acl = rotated.acl(kWeightPath);
  ASSERT_TRUE(acl);
  EXPECT_THAT(*acl, ::testing::UnorderedElementsAre(
                        "world:anyone:r", "digest:" + digest_identity("wharf:zk-pw-2") + ":rwcda"));
  // The old credential can no longer change it.
  auto old = store->set(kWeightPath, "configVersion: v3.0\n", rule->version);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, StoreError::Code::kNotAllowed);
  ASSERT_TRUE(settled([&](const Split& s) { return near_even(s); }));
  apply(traffic(Phase::kAborted, 0));
  EXPECT_FALSE(node(kWeightPath));
  EXPECT_TRUE(aborts.empty());
}

}  // namespace
}  // namespace wharf::dubbo::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  try {
    wharf::dubbo::testing::enter_namespace();  // before any thread
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dubbo peers: %s\n", e.what());
    wharf::dubbo::testing::leave_namespace();
    return 1;
  }
  ::testing::AddGlobalTestEnvironment(new wharf::dubbo::testing::PeersEnvironment);
  const int rc = RUN_ALL_TESTS();
  wharf::dubbo::testing::leave_namespace();
  return rc;
}
