// Swarm canaries through Portainer (docs/canary.md#swarm) against
// tests/peers/portainer: replicas per step, promotion, abort, and the
// refusal of header routing.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/http/http_client.h"
#include "adapters/swarm/canary_target.h"
#include "tests/canary/canary_support.h"
#include "tests/canary/peers.h"
#include "tests/runtime/runtime_fixture.h"
#include "tests/targets/test_targets.h"

namespace wharf::swarm {
namespace {

namespace json = boost::json;
using namespace wharf::canary_testing;
using Phase = engine::CanaryTraffic::Phase;

using Peer = PortainerPeer;

Peer& peer() {
  static Peer p;
  return p;
}

// The peer registered as target "peer" (an access token).
targets::testing::TestTargets& portainers() {
  static targets::testing::TestTargets t;
  static const bool registered = [] {
    t.portainer("peer", peer().url(), "1", {{"api_key", "ptr_testkey"}});
    return true;
  }();
  (void)registered;
  return t;
}

engine::DeployJob job(const std::string& service, const wharf::v1::CanaryMatch& match = {}) {
  auto strategy = ten_fifty_hundred();
  *strategy.mutable_match() = match;
  auto j = canary_job(service, "2.0.0", wharf::v1::TARGET_TYPE_SWARM, strategy);
  j.spec.set_target_ref("peer");
  auto& s = *j.spec.mutable_target_settings();
  s["service"] = service;
  s["image"] = "registry.example/api:{version}";
  s["url"] = "https://api.example";
  s["update_timeout_s"] = "30";
  return j;
}

int64_t replicas(json::object& s, const std::string& name) {
  return s.at(name).at("replicas").as_int64();
}
std::string image(json::object& s, const std::string& name) {
  return std::string(s.at(name).at("image").as_string());
}

TEST(SwarmCanary, TaskCountsFollowTheStepsThenThePromotion) {
  peer().service("api", 4);
  SwarmCanaryTarget target(portainers(), std::chrono::milliseconds(20),
                           std::chrono::milliseconds(50));
  const auto j = job("api");
  const auto outcome = deploy(target, j);
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  EXPECT_EQ(outcome.url, "https://api.example");
  auto s = peer().services();
  ASSERT_TRUE(s.contains("api-canary"));
  EXPECT_EQ(image(s, "api-canary"), "registry.example/api:2.0.0");
  EXPECT_EQ(replicas(s, "api-canary"), 1);
  EXPECT_TRUE(s.at("api-canary").at("ports").as_array().empty());  // the stable one publishes
  EXPECT_EQ(s.at("api-canary").at("labels").at("wharf.canary-of").as_string(), "api");
  EXPECT_EQ(s.at("api-canary").at("labels").at("wharf.deploy").as_string(), j.deploy_id + "#1");

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 0)), "");
  s = peer().services();
  EXPECT_EQ(replicas(s, "api"), 3);
  EXPECT_EQ(replicas(s, "api-canary"), 1);

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  s = peer().services();
  EXPECT_EQ(replicas(s, "api"), 2);
  EXPECT_EQ(replicas(s, "api-canary"), 2);

  ASSERT_EQ(apply(target, traffic(j, Phase::kPromoted)), "");
  s = peer().services();
  EXPECT_FALSE(s.contains("api-canary"));
  EXPECT_EQ(image(s, "api"), "registry.example/api:2.0.0");
  EXPECT_EQ(replicas(s, "api"), 4);
  EXPECT_EQ(s.at("api").at("labels").at("wharf.deploy").as_string(), j.deploy_id + "#1");
}

TEST(SwarmCanary, AbortRemovesTheCanaryServiceAndRestoresTheStableTasks) {
  peer().service("pay", 4);
  SwarmCanaryTarget target(portainers(), std::chrono::milliseconds(20),
                           std::chrono::milliseconds(50));
  const auto j = job("pay");
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  auto s = peer().services();
  EXPECT_EQ(replicas(s, "pay"), 2);
  ASSERT_EQ(apply(target, traffic(j, Phase::kAborted)), "");
  s = peer().services();
  EXPECT_FALSE(s.contains("pay-canary"));
  EXPECT_EQ(replicas(s, "pay"), 4);
  EXPECT_EQ(image(s, "pay"), "registry.example/api:1.0.0");
}

// Promotion waits for Swarm to finish the stable service's update to the
// canary's image (the update wait of a deploy): until then the canary serves.
TEST(SwarmCanary, PromotionKeepsTheCanaryServiceUntilTheStableUpdateIsDone) {
  peer().service("cat", 4);
  SwarmCanaryTarget target(portainers(), std::chrono::milliseconds(20),
                           std::chrono::milliseconds(50));
  const auto j = job("cat");
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  peer().hold("cat", true);
  target.set(traffic(j, Phase::kPromoted), [](const engine::CanaryVerdict&) {});
  // The stable service runs the canary's image and wharf polls its update.
  ASSERT_TRUE(runtime::testing::eventually(
      [&] {
        auto s = peer().services();
        return image(s, "cat") == "registry.example/api:2.0.0" &&
               s.at("cat").at("held_polls").as_int64() >= 3;
      },
      std::chrono::seconds(30)));
  auto s = peer().services();
  EXPECT_TRUE(s.contains("cat-canary"));  // still serving
  EXPECT_EQ(s.at("cat").at("update_state").as_string(), "updating");

  peer().hold("cat", false);
  ASSERT_TRUE(target.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(60)));
  EXPECT_EQ(target.last_error("web", "cat"), "");
  s = peer().services();
  EXPECT_FALSE(s.contains("cat-canary"));
  EXPECT_EQ(image(s, "cat"), "registry.example/api:2.0.0");
  EXPECT_EQ(replicas(s, "cat"), 4);
}

TEST(SwarmCanary, ARepeatedDeployStartWatchesTheCanaryItAlreadyMade) {
  peer().service("search", 2);
  const auto j = job("search");
  {
    SwarmCanaryTarget first(portainers(), std::chrono::milliseconds(20));
    ASSERT_TRUE(deploy(first, j).succeeded);
  }
  SwarmCanaryTarget after_restart(portainers(), std::chrono::milliseconds(20));
  const auto again = deploy(after_restart, j);
  EXPECT_TRUE(again.succeeded) << again.reason;
  auto s = peer().services();
  EXPECT_EQ(replicas(s, "search-canary"), 1);
}

TEST(SwarmCanary, HeaderRoutingIsNotAvailable) {
  peer().service("auth", 2);
  wharf::v1::CanaryMatch match;
  match.set_header("X-Canary");
  SwarmCanaryTarget target(portainers(), std::chrono::milliseconds(20));
  const auto outcome = deploy(target, job("auth", match));
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_NE(outcome.reason.find("Swarm has no header or cookie routing"), std::string::npos)
      << outcome.reason;
  EXPECT_FALSE(peer().services().contains("auth-canary"));
}

}  // namespace
}  // namespace wharf::swarm
