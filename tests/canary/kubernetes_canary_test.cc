// Kubernetes canaries (docs/canary.md#kubernetes) against a real control
// plane (tests/peers/kubernetes_cluster.h; one per test binary): the objects
// the API server holds at each step, in both modes, for a promotion and an
// abort, with the controllers rolling each Deployment out; and a pipeline
// whose canary the runtime walks 10% -> 50% -> promoted.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/http/http_client.h"
#include "adapters/kubernetes/canary_target.h"
#include "adapters/runtime/runtime.h"
#include "tests/canary/canary_support.h"
#include "tests/peers/kubernetes_cluster.h"
#include "tests/runtime/e2e_support.h"
#include "tests/targets/test_targets.h"

namespace wharf::kubernetes {
namespace {

namespace json = boost::json;
using namespace wharf::canary_testing;
using Phase = engine::CanaryTraffic::Phase;
using wharf::testing::KubernetesCluster;
constexpr const char* kAnn = "nginx.ingress.kubernetes.io/";

const KubernetesCluster& cluster() {
  return wharf::testing::kubernetes_cluster();
}

// The cluster registered as target "k8s" (the limited token).
targets::testing::TestTargets& clusters() {
  static targets::testing::TestTargets t;
  static const bool registered = [] {
    cluster().connect(t, "k8s");
    return true;
  }();
  (void)registered;
  return t;
}

engine::DeployJob job(const std::string& name, const std::string& mode = "",
                      const wharf::v1::CanaryMatch& match = {}) {
  auto strategy = ten_fifty_hundred(mode);
  *strategy.mutable_match() = match;
  auto j = canary_job(name, "2.0.0", wharf::v1::TARGET_TYPE_KUBERNETES, strategy);
  j.spec.set_target_ref("k8s");
  auto& s = *j.spec.mutable_target_settings();
  s["deployment"] = name;
  s["container"] = "app";
  s["image"] = "registry.example/web:{version}";
  s["url"] = "https://web.example";
  s["rollout_timeout_s"] = "30";
  if (mode == "ingress-nginx") s["ingress"] = name;
  return j;
}

std::string deployment_path(const std::string& name) {
  return KubernetesCluster::deployment_path(name);
}
std::string service_path(const std::string& name) {
  return "/api/v1/namespaces/default/services/" + name;
}
std::string ingress_path(const std::string& name) {
  return "/apis/networking.k8s.io/v1/namespaces/default/ingresses/" + name;
}
bool has(const std::string& path) {
  return cluster().find(path).has_value();
}
int64_t replicas(const std::string& name) {
  return cluster().deployment(name)["spec"].at("replicas").as_int64();
}
std::string image(const std::string& name) { return cluster().image(name); }
json::object annotations(const std::string& ingress) {
  return cluster().get(ingress_path(ingress))["metadata"].at("annotations").as_object();
}
// The Deployment's controller status agrees with its spec (every replica updated and available).
bool available(const std::string& name) {
  return cluster().rolled_out(name, std::chrono::seconds(30));
}

TEST(KubernetesCanary, ReplicasModeShiftsTheReplicaRatioThenPromotes) {
  cluster().create_deployment("shop", "registry.example/web:1.0.0", {.replicas = 4});
  KubernetesCanaryTarget target(clusters(), std::chrono::milliseconds(20),
                                std::chrono::milliseconds(50));
  const auto j = job("shop");
  const auto outcome = deploy(target, j);
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  EXPECT_EQ(outcome.url, "https://web.example");
  ASSERT_TRUE(has(deployment_path("shop-canary")));
  EXPECT_EQ(image("shop-canary"), "registry.example/web:2.0.0");
  EXPECT_EQ(replicas("shop-canary"), 1);  // ceil(4 * 10%) from the start
  auto canary = cluster().deployment("shop-canary");
  EXPECT_EQ(canary["status"].at("availableReplicas").as_int64(), 1);  // rolled out, really
  const auto& labels = canary["spec"].at("template").at("metadata").at("labels").as_object();
  EXPECT_EQ(labels.at("app").as_string(), "shop");  // the stable Service selects it too
  EXPECT_EQ(labels.at("wharf.dev/track").as_string(), "canary");
  EXPECT_EQ(canary["metadata"].at("annotations").at(kCanaryTotal).as_string(), "4");
  EXPECT_EQ(cluster().running_pods("shop").size(), 5u);  // 4 stable + 1 canary behind app=shop

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 0)), "");
  EXPECT_EQ(replicas("shop"), 3);
  EXPECT_EQ(replicas("shop-canary"), 1);
  EXPECT_EQ(image("shop"), "registry.example/web:1.0.0");

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  EXPECT_EQ(replicas("shop"), 2);
  EXPECT_EQ(replicas("shop-canary"), 2);
  EXPECT_TRUE(available("shop"));
  EXPECT_TRUE(available("shop-canary"));

  ASSERT_EQ(apply(target, traffic(j, Phase::kPromoted)), "");
  EXPECT_FALSE(has(deployment_path("shop-canary")));
  EXPECT_EQ(image("shop"), "registry.example/web:2.0.0");
  EXPECT_EQ(replicas("shop"), 4);
  EXPECT_TRUE(available("shop"));  // the promotion waited for the stable rollout
  EXPECT_EQ(
      cluster().deployment("shop")["metadata"].at("annotations").at("wharf.dev/deploy").as_string(),
      j.deploy_id + "#1");
}

TEST(KubernetesCanary, ReplicasModeAbortRemovesTheCanaryAndRestoresTheStableReplicas) {
  cluster().create_deployment("cart", "registry.example/web:1.0.0", {.replicas = 4});
  KubernetesCanaryTarget target(clusters(), std::chrono::milliseconds(20),
                                std::chrono::milliseconds(50));
  const auto j = job("cart");
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  EXPECT_EQ(replicas("cart"), 2);
  ASSERT_EQ(apply(target, traffic(j, Phase::kAborted)), "");
  EXPECT_FALSE(has(deployment_path("cart-canary")));
  EXPECT_EQ(replicas("cart"), 4);
  EXPECT_EQ(image("cart"), "registry.example/web:1.0.0");
  EXPECT_TRUE(available("cart"));
  // The garbage collector takes the canary's ReplicaSet and pods with it.
  EXPECT_TRUE(runtime::testing::eventually(
      [] { return cluster().running_pods("cart").size() == 4; }, std::chrono::seconds(30)));
  // The abort was applied once: a repeat (after a restart) finds nothing to undo.
  EXPECT_EQ(apply(target, traffic(j, Phase::kAborted)), "");
}

TEST(KubernetesCanary, IngressNginxModeSetsTheCanaryAnnotationsThenPromotes) {
  cluster().create_deployment("blog", "registry.example/web:1.0.0");
  cluster().create_service_and_ingress("blog");
  wharf::v1::CanaryMatch match;
  match.set_header("X-Canary");
  match.set_header_value("1");
  KubernetesCanaryTarget target(clusters(), std::chrono::milliseconds(20),
                                std::chrono::milliseconds(50));
  const auto j = job("blog", "ingress-nginx", match);
  const auto outcome = deploy(target, j);
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  ASSERT_TRUE(has(deployment_path("blog-canary")));
  EXPECT_EQ(replicas("blog-canary"), 2);  // NGINX splits the traffic, not the replicas
  EXPECT_TRUE(available("blog-canary"));
  // The canary pods are not the stable Service's: relabelled, with their own Service.
  EXPECT_EQ(cluster().running_pods("blog-canary").size(), 2u);
  EXPECT_EQ(cluster().running_pods("blog").size(), 2u);
  ASSERT_TRUE(has(service_path("blog-canary")));
  const auto service = cluster().get(service_path("blog-canary"));
  const auto& selector = service.at("spec").at("selector").as_object();
  EXPECT_EQ(selector.at("app").as_string(), "blog-canary");
  EXPECT_EQ(selector.at("wharf.dev/track").as_string(), "canary");
  ASSERT_TRUE(has(ingress_path("blog-canary")));
  auto a = annotations("blog-canary");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary").as_string(), "true");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-weight").as_string(), "0");  // until the first step
  const auto ingress = cluster().get(ingress_path("blog-canary"));
  const auto& backend =
      ingress.at("spec").at("rules").at(0).at("http").at("paths").at(0).at("backend");
  EXPECT_EQ(backend.at("service").at("name").as_string(), "blog-canary");

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 0)), "");
  a = annotations("blog-canary");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-weight").as_string(), "10");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-by-header").as_string(), "X-Canary");
  EXPECT_EQ(a.at(std::string(kAnn) + "canary-by-header-value").as_string(), "1");
  EXPECT_EQ(replicas("blog"), 2);  // the stable Deployment keeps its replicas

  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  EXPECT_EQ(annotations("blog-canary").at(std::string(kAnn) + "canary-weight").as_string(), "50");

  ASSERT_EQ(apply(target, traffic(j, Phase::kPromoted)), "");
  EXPECT_FALSE(has(ingress_path("blog-canary")));
  EXPECT_FALSE(has(service_path("blog-canary")));
  EXPECT_FALSE(has(deployment_path("blog-canary")));
  EXPECT_EQ(image("blog"), "registry.example/web:2.0.0");
  EXPECT_TRUE(available("blog"));
  EXPECT_TRUE(has(ingress_path("blog")));  // the stable Ingress is untouched
  EXPECT_FALSE(annotations("blog").contains(std::string(kAnn) + "canary"));
}

TEST(KubernetesCanary, IngressNginxAbortTakesTheWeightAndTheCanaryObjectsAway) {
  cluster().create_deployment("news", "registry.example/web:1.0.0");
  cluster().create_service_and_ingress("news");
  wharf::v1::CanaryMatch match;
  match.set_header("X-Canary");  // any value: a pattern
  KubernetesCanaryTarget target(clusters(), std::chrono::milliseconds(20),
                                std::chrono::milliseconds(50));
  const auto j = job("news", "ingress-nginx", match);
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 0)), "");
  EXPECT_EQ(
      annotations("news-canary").at(std::string(kAnn) + "canary-by-header-pattern").as_string(),
      ".*");
  ASSERT_EQ(apply(target, traffic(j, Phase::kAborted)), "");
  EXPECT_FALSE(has(ingress_path("news-canary")));
  EXPECT_FALSE(has(service_path("news-canary")));
  EXPECT_FALSE(has(deployment_path("news-canary")));
  EXPECT_EQ(image("news"), "registry.example/web:1.0.0");
  EXPECT_EQ(replicas("news"), 2);
  // Weight 0 went out before the objects were deleted: one merge PATCH of the
  // canary Ingress per step and one for the abort, then its DELETE.
  EXPECT_EQ(cluster().writes("patch", "ingresses", "news-canary"), 2);
  EXPECT_EQ(cluster().writes("delete", "ingresses", "news-canary", 200), 1);
}

// Promotion waits for the stable Deployment's rollout of the canary's image
// (the rollout wait of a deploy): until it is done the canary keeps serving.
// The node is cordoned meanwhile, so the new stable pods cannot be scheduled.
TEST(KubernetesCanary, PromotionKeepsTheCanaryUntilTheStableRolloutIsDone) {
  cluster().create_deployment("shelf", "registry.example/web:1.0.0", {.replicas = 4});
  // Another environment's canary on the same target.
  cluster().create_deployment("stool", "registry.example/web:1.0.0", {.replicas = 2});
  KubernetesCanaryTarget target(clusters(), std::chrono::milliseconds(20),
                                std::chrono::milliseconds(50));
  const auto j = job("shelf");
  const auto other = job("stool");
  ASSERT_TRUE(deploy(target, j).succeeded);
  ASSERT_TRUE(deploy(target, other).succeeded);
  ASSERT_EQ(apply(target, traffic(j, Phase::kStep, 1)), "");
  ASSERT_EQ(apply(target, traffic(other, Phase::kStep, 0)), "");
  cluster().cordon(true);
  target.set(traffic(j, Phase::kPromoted), [](const engine::CanaryVerdict&) {});
  // The stable Deployment has the canary's image; its rollout cannot finish.
  ASSERT_TRUE(runtime::testing::eventually(
      [&] { return image("shelf") == "registry.example/web:2.0.0"; }, std::chrono::seconds(30)));
  EXPECT_FALSE(cluster().rolled_out("shelf", std::chrono::seconds(2)));
  EXPECT_TRUE(has(deployment_path("shelf-canary")));  // still serving
  EXPECT_EQ(replicas("shelf-canary"), 2);
  // The wait holds up no other environment: its abort goes through meanwhile.
  target.set(traffic(other, Phase::kAborted), [](const engine::CanaryVerdict&) {});
  EXPECT_TRUE(runtime::testing::eventually(
      [&] { return !has(deployment_path("stool-canary")) && replicas("stool") == 2; },
      std::chrono::seconds(30)));
  EXPECT_TRUE(has(deployment_path("shelf-canary")));

  cluster().cordon(false);
  ASSERT_TRUE(target.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(60)));
  EXPECT_EQ(target.last_error("web", "shelf"), "");
  EXPECT_FALSE(has(deployment_path("shelf-canary")));
  EXPECT_EQ(image("shelf"), "registry.example/web:2.0.0");
  EXPECT_EQ(replicas("shelf"), 4);
  EXPECT_TRUE(available("shelf"));
}

// A step the cluster cannot take is tried a few times, then reported as the
// canary's abort (the verdict the runtime turns into CanaryAborted).
TEST(KubernetesCanary, AStepWhoseCanaryIsGoneIsAnErrorReportedForAnAbort) {
  cluster().create_deployment("gone", "registry.example/web:1.0.0");
  KubernetesCanaryTarget target(clusters(), std::chrono::milliseconds(20),
                                std::chrono::milliseconds(10));
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
  cluster().create_deployment("hello", "registry.example/hello:1.0.0", {.replicas = 4});
  TempDir dir;
  const fs::path repo = dir.path() / "repo";
  const std::string first = make_hello_repo(repo);
  const std::string second = commit_version(repo, "2.0.0");
  auto store = open_store(dir.path() / "events", true);
  runtime::Runtime rt(
      *store, runtime::RuntimeOptions{.data_dir = dir.path() / "data", .targets = &clusters()});
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
  prod.set_target_ref("k8s");
  auto& settings = *prod.mutable_settings();
  settings["deployment"] = "hello";
  settings["container"] = "app";
  settings["image"] = "registry.example/hello:{version}";
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
          return has(deployment_path("hello-canary")) && replicas("hello") == stable &&
                 replicas("hello-canary") == canary && image("hello-canary") == v2;
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
        return !has(deployment_path("hello-canary")) && image("hello") == v2 &&
               replicas("hello") == 4 && cluster().rolled_out("hello", std::chrono::seconds(1));
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(events_of_type(*store, "DeployFailed").size(), 0u);
  rt.stop();
}

}  // namespace
}  // namespace wharf::kubernetes
