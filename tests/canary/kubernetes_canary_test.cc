// Kubernetes canaries (docs/canary.md#kubernetes) against
// tests/peers/kubernetes: the objects the peer holds at each step, in both
// modes, for a promotion and an abort; and a pipeline whose canary the
// runtime walks 10% -> 50% -> promoted.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/http/http_client.h"
#include "adapters/kubernetes/canary_target.h"
#include "adapters/runtime/runtime.h"
#include "tests/canary/canary_support.h"
#include "tests/canary/peers.h"
#include "tests/runtime/e2e_support.h"

namespace wharf::kubernetes {
namespace {

namespace json = boost::json;
using namespace wharf::canary_testing;
using Phase = engine::CanaryTraffic::Phase;
constexpr const char* kAnn = "nginx.ingress.kubernetes.io/";

using Peer = KubernetesPeer;

Peer& peer() {
  static Peer p;
  return p;
}

engine::DeployJob job(const std::string& name, const std::string& mode = "",
                      const wharf::v1::CanaryMatch& match = {}) {
  auto strategy = ten_fifty_hundred(mode);
  *strategy.mutable_match() = match;
  auto j = canary_job(name, "2.0.0", wharf::v1::TARGET_TYPE_KUBERNETES, strategy);
  auto& s = *j.spec.mutable_target_settings();
  s["api_url"] = peer().url();
  s["deployment"] = name;
  s["container"] = "app";
  s["image"] = "registry.example/web:{version}";
  s["token"] = "s3cret";
  s["url"] = "https://web.example";
  s["rollout_timeout_s"] = "30";
  if (mode == "ingress-nginx") s["ingress"] = name;
  return j;
}

int64_t replicas(json::object& objects, const std::string& name) {
  return objects["deployments"].as_object().at(name).at("replicas").as_int64();
}
std::string image(json::object& objects, const std::string& name) {
  return std::string(objects["deployments"].as_object().at(name).at("image").as_string());
}
bool has(json::object& objects, const char* kind, const std::string& name) {
  return objects[kind].as_object().contains(name);
}
json::object annotations(json::object& objects, const std::string& ingress) {
  return objects["ingresses"].as_object().at(ingress).at("metadata").at("annotations").as_object();
}

TEST(KubernetesCanary, ReplicasModeShiftsTheReplicaRatioThenPromotes) {
  peer().deployment("shop", 4);
  KubernetesCanaryTarget target(std::chrono::milliseconds(20), std::chrono::milliseconds(50));
  const auto j = job("shop");
  const auto outcome = deploy(target, j);
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  EXPECT_EQ(outcome.url, "https://web.example");
  auto o = peer().objects();
  ASSERT_TRUE(has(o, "deployments", "shop-canary"));
  EXPECT_EQ(image(o, "shop-canary"), "registry.example/web:2.0.0");
  EXPECT_EQ(replicas(o, "shop-canary"), 1);  // ceil(4 * 10%) from the start
  const auto& labels = o["deployments"].at("shop-canary").at("labels").as_object();
  EXPECT_EQ(labels.at("app").as_string(), "shop");  // the stable Service selects it too
  EXPECT_EQ(labels.at("wharf.dev/track").as_string(), "canary");
  EXPECT_EQ(o["deployments"].at("shop-canary").at("annotations").at(kCanaryTotal).as_string(), "4");

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 0)), "");
  o = peer().objects();
  EXPECT_EQ(replicas(o, "shop"), 3);
  EXPECT_EQ(replicas(o, "shop-canary"), 1);
  EXPECT_EQ(image(o, "shop"), "registry.example/web:1.0.0");

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  o = peer().objects();
  EXPECT_EQ(replicas(o, "shop"), 2);
  EXPECT_EQ(replicas(o, "shop-canary"), 2);

  ASSERT_EQ(apply(target, traffic(j, Phase::kPromoted)), "");
  o = peer().objects();
  EXPECT_FALSE(has(o, "deployments", "shop-canary"));
  EXPECT_EQ(image(o, "shop"), "registry.example/web:2.0.0");
  EXPECT_EQ(replicas(o, "shop"), 4);
  EXPECT_EQ(o["deployments"].at("shop").at("annotations").at("wharf.dev/deploy").as_string(),
            j.deploy_id + "#1");
}

TEST(KubernetesCanary, ReplicasModeAbortRemovesTheCanaryAndRestoresTheStableReplicas) {
  peer().deployment("cart", 4);
  KubernetesCanaryTarget target(std::chrono::milliseconds(20), std::chrono::milliseconds(50));
  const auto j = job("cart");
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  auto o = peer().objects();
  EXPECT_EQ(replicas(o, "cart"), 2);
  ASSERT_EQ(apply(target, traffic(j, Phase::kAborted)), "");
  o = peer().objects();
  EXPECT_FALSE(has(o, "deployments", "cart-canary"));
  EXPECT_EQ(replicas(o, "cart"), 4);
  EXPECT_EQ(image(o, "cart"), "registry.example/web:1.0.0");
  // The abort was applied once: a repeat (after a restart) finds nothing to undo.
  EXPECT_EQ(apply(target, traffic(j, Phase::kAborted)), "");
}

TEST(KubernetesCanary, IngressNginxModeSetsTheCanaryAnnotationsThenPromotes) {
  peer().ingress_stack("blog");
  wharf::v1::CanaryMatch match;
  match.set_header("X-Canary");
  match.set_header_value("1");
  KubernetesCanaryTarget target(std::chrono::milliseconds(20), std::chrono::milliseconds(50));
  const auto j = job("blog", "ingress-nginx", match);
  const auto outcome = deploy(target, j);
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  auto o = peer().objects();
  ASSERT_TRUE(has(o, "deployments", "blog-canary"));
  EXPECT_EQ(replicas(o, "blog-canary"), 2);  // NGINX splits the traffic, not the replicas
  // The canary pods are not the stable Service's: relabelled, with their own Service.
  const auto& pod_labels = o["deployments"].at("blog-canary").at("labels").as_object();
  EXPECT_EQ(pod_labels.at("app").as_string(), "blog-canary");
  ASSERT_TRUE(has(o, "services", "blog-canary"));
  const auto& selector = o["services"].at("blog-canary").at("spec").at("selector").as_object();
  EXPECT_EQ(selector.at("app").as_string(), "blog-canary");
  EXPECT_EQ(selector.at("wharf.dev/track").as_string(), "canary");
  ASSERT_TRUE(has(o, "ingresses", "blog-canary"));
  auto a = annotations(o, "blog-canary");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary").as_string(), "true");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-weight").as_string(), "0");  // until the first step
  const auto& backend = o["ingresses"]
                            .at("blog-canary")
                            .at("spec")
                            .at("rules")
                            .at(0)
                            .at("http")
                            .at("paths")
                            .at(0)
                            .at("backend");
  EXPECT_EQ(backend.at("service").at("name").as_string(), "blog-canary");

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 0)), "");
  o = peer().objects();
  a = annotations(o, "blog-canary");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-weight").as_string(), "10");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-by-header").as_string(), "X-Canary");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-by-header-value").as_string(), "1");
  EXPECT_EQ(replicas(o, "blog"), 2);  // the stable Deployment keeps its replicas

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  o = peer().objects();
  EXPECT_EQ(annotations(o, "blog-canary").at(std::string(kAnn) + "canary-weight").as_string(),
            "50");

  ASSERT_EQ(apply(target, traffic(j, Phase::kPromoted)), "");
  o = peer().objects();
  EXPECT_FALSE(has(o, "ingresses", "blog-canary"));
  EXPECT_FALSE(has(o, "services", "blog-canary"));
  EXPECT_FALSE(has(o, "deployments", "blog-canary"));
  EXPECT_EQ(image(o, "blog"), "registry.example/web:2.0.0");
  EXPECT_TRUE(has(o, "ingresses", "blog"));  // the stable Ingress is untouched
  EXPECT_FALSE(annotations(o, "blog").contains(std::string(kAnn) + "canary"));
}

TEST(KubernetesCanary, IngressNginxAbortTakesTheWeightAndTheCanaryObjectsAway) {
  peer().ingress_stack("news");
  wharf::v1::CanaryMatch match;
  match.set_header("X-Canary");  // any value: a pattern
  KubernetesCanaryTarget target(std::chrono::milliseconds(20), std::chrono::milliseconds(50));
  const auto j = job("news", "ingress-nginx", match);
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 0)), "");
  auto o = peer().objects();
  EXPECT_EQ(
      annotations(o, "news-canary").at(std::string(kAnn) + "canary-by-header-pattern").as_string(),
      ".*");
  ASSERT_EQ(apply(target, traffic(j, Phase::kAborted)), "");
  o = peer().objects();
  EXPECT_FALSE(has(o, "ingresses", "news-canary"));
  EXPECT_FALSE(has(o, "services", "news-canary"));
  EXPECT_FALSE(has(o, "deployments", "news-canary"));
  EXPECT_EQ(image(o, "news"), "registry.example/web:1.0.0");
  EXPECT_EQ(replicas(o, "news"), 2);
}

// Promotion waits for the stable Deployment's rollout of the canary's image
// (the rollout wait of a deploy): until it is done the canary keeps serving.
TEST(KubernetesCanary, PromotionKeepsTheCanaryUntilTheStableRolloutIsDone) {
  peer().deployment("shelf", 4);
  peer().deployment("stool", 2);  // another environment's canary on the same target
  KubernetesCanaryTarget target(std::chrono::milliseconds(20), std::chrono::milliseconds(50));
  const auto j = job("shelf");
  const auto other = job("stool");
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_TRUE(deploy(target, other).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  ASSERT_EQ(apply(target, traffic(other, Phase::kStep, 0)), "");
  peer().hold("shelf", true);
  target.set(traffic(j, Phase::kPromoted), [](const engine::CanaryVerdict&) {});
  const auto polled_while_held = [](json::object& o, const std::string& name) {
    return o["deployments"].as_object().at(name).at("held_polls").as_int64();
  };
  // The stable Deployment has the canary's image and wharf polls its rollout.
  ASSERT_TRUE(runtime::testing::eventually(
      [&] {
        auto o = peer().objects();
        return image(o, "shelf") == "registry.example/web:2.0.0" &&
               polled_while_held(o, "shelf") >= 3;
      },
      std::chrono::seconds(30)));
  auto o = peer().objects();
  EXPECT_TRUE(has(o, "deployments", "shelf-canary"));  // still serving
  EXPECT_EQ(replicas(o, "shelf-canary"), 2);
  EXPECT_LT(o["deployments"].at("shelf").at("observed_generation").as_int64(),
            o["deployments"].at("shelf").at("generation").as_int64());
  // The wait holds up no other environment: its abort goes through meanwhile.
  target.set(traffic(other, Phase::kAborted), [](const engine::CanaryVerdict&) {});
  EXPECT_TRUE(runtime::testing::eventually(
      [&] {
        auto now = peer().objects();
        return !has(now, "deployments", "stool-canary") && replicas(now, "stool") == 2;
      },
      std::chrono::seconds(30)));
  o = peer().objects();
  EXPECT_TRUE(has(o, "deployments", "shelf-canary"));

  peer().hold("shelf", false);
  ASSERT_TRUE(target.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(60)));
  EXPECT_EQ(target.last_error("web", "shelf"), "");
  o = peer().objects();
  EXPECT_FALSE(has(o, "deployments", "shelf-canary"));
  EXPECT_EQ(image(o, "shelf"), "registry.example/web:2.0.0");
  EXPECT_EQ(replicas(o, "shelf"), 4);
}

// A step the cluster cannot take is tried a few times, then reported as the
// canary's abort (the verdict the runtime turns into CanaryAborted).
TEST(KubernetesCanary, AStepWhoseCanaryIsGoneIsAnErrorReportedForAnAbort) {
  peer().deployment("gone", 2);
  KubernetesCanaryTarget target(std::chrono::milliseconds(20), std::chrono::milliseconds(10));
  const auto j = job("gone");
  Verdicts verdicts;
  target.set(traffic(j, Phase::kStep, 1), verdicts.sink());
  ASSERT_TRUE(target.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_NE(target.last_error(j.project_id, j.environment)
                .find("the canary Deployment default/gone-canary is gone"),
            std::string::npos);
  ASSERT_EQ(verdicts.count(), 1u);
  const auto& v = verdicts.seen[0];
  EXPECT_EQ(v.figures.source(), "traffic");
  EXPECT_NE(v.reason.find("traffic change failed after 5 tries"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("step 1 at 50%"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("default/gone-canary is gone"), std::string::npos) << v.reason;

  auto missing = job("gone", "ingress-nginx");
  missing.spec.mutable_target_settings()->erase("ingress");
  const auto outcome = deploy(target, missing);
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.reason, "canary mode ingress-nginx needs settings.ingress");
}

// The runtime routes a Kubernetes environment's canary deploy and its
// traffic to the Kubernetes canary target (DeployRouter, CanaryTargetRouter).
TEST(KubernetesCanaryPipeline, ACanaryGoesTenFiftyPromotedThroughTheRuntime) {
  using namespace wharf::runtime::testing;
  peer().deployment("hello", 4);
  TempDir dir;
  const fs::path repo = dir.path() / "repo";
  const std::string first = make_hello_repo(repo);
  const std::string second = commit_version(repo, "2.0.0");
  auto store = open_store(dir.path() / "events", true);
  runtime::Runtime rt(*store, runtime::RuntimeOptions{.data_dir = dir.path() / "data"});
  ASSERT_TRUE(rt.start());
  auto ctx = [&] { return rt.commands().user_context("alice", wharf::v1::CHANNEL_CLI); };

  engine::CreateProject project = hello_project("hello", repo);
  project.environments.resize(1);
  wharf::v1::EnvironmentSpec& prod = project.environments[0];
  prod.set_name("prod");
  prod.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  prod.clear_post_deploy_tests();
  prod.set_replicas(4);  // N: the canary's share is counted in replicas of 4
  *prod.mutable_canary() = ten_fifty_hundred("replicas");
  auto& settings = *prod.mutable_settings();
  settings["api_url"] = peer().url();
  settings["deployment"] = "hello";
  settings["container"] = "app";
  settings["image"] = "registry.example/hello:{version}";
  settings["token"] = "s3cret";
  ASSERT_TRUE(rt.commands().execute(project, ctx()));

  for (const auto& sha : {first, second}) {
    auto commit = make_commit("hello", sha);
    ASSERT_TRUE(rt.commands().execute(commit, ctx()));
    const std::string run = engine::run_id_of(commit);
    ASSERT_TRUE(eventually(
        [&] {
          return run_completed(*store, run) ||
                 run_completed(*store, run, wharf::v1::RUN_OUTCOME_FAILED);
        },
        std::chrono::seconds(90)));
    ASSERT_TRUE(run_completed(*store, run)) << "run " << run << " failed";
  }
  auto started = events_of_type(*store, "CanaryStarted");
  ASSERT_EQ(started.size(), 1u);
  // The canary's image is the one its DeploySpec names (version 2.0.0's build).
  const std::string v2 =
      "registry.example/hello:" + started[0].payload().canary_started().version();
  auto at = [&](int64_t stable, int64_t canary) {
    return eventually(
        [&] {
          auto o = peer().objects();
          return has(o, "deployments", "hello-canary") && replicas(o, "hello") == stable &&
                 replicas(o, "hello-canary") == canary && image(o, "hello-canary") == v2;
        },
        std::chrono::seconds(30));
  };
  EXPECT_TRUE(at(3, 1));  // 10%

  engine::PromoteCanary promote;
  promote.project_id = "hello";
  promote.environment = "prod";
  ASSERT_TRUE(rt.commands().execute(promote, ctx()));
  EXPECT_TRUE(at(2, 2));  // 50%

  ASSERT_TRUE(rt.commands().execute(promote, ctx()));
  ASSERT_EQ(events_of_type(*store, "CanaryPromoted").size(), 1u);
  EXPECT_TRUE(eventually(
      [&] {
        auto o = peer().objects();
        return !has(o, "deployments", "hello-canary") && image(o, "hello") == v2 &&
               replicas(o, "hello") == 4;
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(events_of_type(*store, "DeployFailed").size(), 0u);
  rt.stop();
}

}  // namespace
}  // namespace wharf::kubernetes
