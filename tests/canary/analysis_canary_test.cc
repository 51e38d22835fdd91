// Automatic canary analysis on Kubernetes and Swarm (docs/canary.md#analysis):
// the canary's error rate is a Prometheus query (tests/peers/prometheus); over
// the limit the runtime aborts the canary on its own, with the measured rate
// in CanaryAborted, and the clusters (a real Kubernetes control plane,
// tests/peers/kubernetes_cluster.h; the Portainer test peer) lose the canary
// objects; under it nothing happens.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>
#include <optional>

#include "adapters/kubernetes/canary_target.h"
#include "adapters/runtime/runtime.h"
#include "adapters/swarm/canary_target.h"
#include "tests/canary/canary_support.h"
#include "tests/canary/peers.h"
#include "tests/peers/kubernetes_cluster.h"
#include "tests/runtime/e2e_support.h"
#include "tests/targets/test_targets.h"

namespace wharf::canary_testing {
namespace {

namespace json = boost::json;
using namespace wharf::runtime::testing;
using Phase = engine::CanaryTraffic::Phase;

// A real control plane (tests/peers/kubernetes_cluster.h).
const wharf::testing::KubernetesCluster& kubernetes() {
  return wharf::testing::kubernetes_cluster();
}
int64_t replicas(const std::string& name) {
  return kubernetes().deployment(name)["spec"].at("replicas").as_int64();
}
bool has_deployment(const std::string& name) {
  return kubernetes().find(wharf::testing::KubernetesCluster::deployment_path(name)).has_value();
}
std::string image(const std::string& name) { return kubernetes().image(name); }
PortainerPeer& portainer() {
  static PortainerPeer p;
  return p;
}
PrometheusPeer& prometheus() {
  static PrometheusPeer p;
  return p;
}

// The cluster and the peer registered as targets "k8s" (the limited token)
// and "portainer" (an access token).
targets::testing::TestTargets& registered() {
  static targets::testing::TestTargets t;
  static const bool done = [] {
    kubernetes().connect(t, "k8s");
    t.portainer("portainer", portainer().url(), "1", {{"api_key", "ptr_testkey"}});
    return true;
  }();
  (void)done;
  return t;
}

// Probe every second, abort over 5% (no request minimum: Prometheus has the rate).
wharf::v1::CanaryStrategy analysed(const std::string& query) {
  auto s = ten_fifty_hundred();
  auto* a = s.mutable_analysis();
  a->set_max_error_rate(0.05);
  a->set_interval_s(1);
  a->set_prometheus_query_url(prometheus().query_url(query));
  return s;
}

void kubernetes_settings(google::protobuf::Map<std::string, std::string>& s,
                         const std::string& deployment) {
  s["deployment"] = deployment;
  s["container"] = "app";
  s["image"] = "registry.example/web:{version}";
  s["rollout_timeout_s"] = "30";
}

void swarm_settings(google::protobuf::Map<std::string, std::string>& s,
                    const std::string& service) {
  s["service"] = service;
  s["image"] = "registry.example/api:{version}";
  s["update_timeout_s"] = "30";
}

// A hello project whose prod is `target` with an analysed canary strategy:
// the first commit goes out whole, the second as the canary (10%, manual).
class Pipeline {
 public:
  Pipeline(wharf::v1::TargetType target, const std::string& query,
           const std::function<void(google::protobuf::Map<std::string, std::string>&)>& settings)
      : store_(open_store(dir_.path() / "events", true)),
        rt_(*store_,
            runtime::RuntimeOptions{.data_dir = dir_.path() / "data", .targets = &registered()}) {
    const fs::path repo = dir_.path() / "repo";
    const std::string first = make_hello_repo(repo);
    const std::string second = commit_version(repo, "2.0.0");
    if (!rt_.start()) throw std::runtime_error("runtime did not start");
    engine::CreateProject project = hello_project("hello", repo);
    project.environments.resize(1);
    wharf::v1::EnvironmentSpec& prod = project.environments[0];
    prod.set_name("prod");
    prod.set_target(target);
    prod.clear_post_deploy_tests();
    prod.set_replicas(4);
    *prod.mutable_canary() = analysed(query);
    settings(*prod.mutable_settings());
    prod.set_target_ref(target == wharf::v1::TARGET_TYPE_KUBERNETES ? "k8s" : "portainer");
    if (!rt_.commands().execute(project, ctx())) throw std::runtime_error("no project");
    for (const auto& sha : {first, second}) {
      auto commit = make_commit("hello", sha);
      if (!rt_.commands().execute(commit, ctx())) throw std::runtime_error("no commit");
      const std::string run = engine::run_id_of(commit);
      eventually(
          [&] {
            return run_completed(*store_, run) ||
                   run_completed(*store_, run, wharf::v1::RUN_OUTCOME_FAILED);
          },
          std::chrono::seconds(90));
      if (!run_completed(*store_, run)) throw std::runtime_error("run " + run + " failed");
    }
  }
  ~Pipeline() { rt_.stop(); }

  events::EventStore& store() { return *store_; }
  std::string canary_version() {
    auto started = events_of_type(*store_, "CanaryStarted");
    return started.size() == 1 ? started[0].payload().canary_started().version() : "";
  }

 private:
  engine::Context ctx() { return rt_.commands().user_context("alice", wharf::v1::CHANNEL_CLI); }
  TempDir dir_;
  std::unique_ptr<events::EventStore> store_;
  runtime::Runtime rt_;
};

// The one automatic CanaryAborted of the store, once it is there.
std::optional<wharf::v1::CanaryAborted> automatic_abort(events::EventStore& store) {
  std::optional<wharf::v1::CanaryAborted> out;
  eventually([&] { return !events_of_type(store, "CanaryAborted").empty(); },
             std::chrono::seconds(30));
  auto aborted = events_of_type(store, "CanaryAborted");
  if (aborted.size() == 1) out = aborted[0].payload().canary_aborted();
  return out;
}

TEST(KubernetesCanaryAnalysis, AnErrorRateOverTheLimitAbortsTheCanaryOnItsOwn) {
  kubernetes().create_deployment("hello", "registry.example/web:1.0.0", {.replicas = 4});
  prometheus().set("hello_k8s_5xx_rate", "0.2");
  Pipeline p(wharf::v1::TARGET_TYPE_KUBERNETES, "hello_k8s_5xx_rate",
             [](auto& s) { kubernetes_settings(s, "hello"); });
  const std::string v2 = "registry.example/web:" + p.canary_version();
  auto aborted = automatic_abort(p.store());
  ASSERT_TRUE(aborted) << "no automatic abort";
  EXPECT_TRUE(aborted->automatic());
  EXPECT_EQ(aborted->figures().source(), "prometheus");
  EXPECT_DOUBLE_EQ(aborted->figures().error_rate(), 0.2);
  EXPECT_NE(aborted->reason().find("20.0% over the limit 5.0%"), std::string::npos)
      << aborted->reason();
  EXPECT_EQ(aborted->weight(), 10u);
  // The abort reached the cluster: no canary Deployment, the stable one whole.
  EXPECT_TRUE(eventually(
      [&] {
        return !has_deployment("hello-canary") && replicas("hello") == 4 && image("hello") != v2;
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(events_of_type(p.store(), "CanaryPromoted").empty());
}

TEST(KubernetesCanaryAnalysis, AnErrorRateUnderTheLimitLeavesTheCanaryAlone) {
  kubernetes().create_deployment("quiet", "registry.example/web:1.0.0", {.replicas = 4});
  prometheus().set("quiet_5xx_rate", "0.01");
  auto strategy = analysed("quiet_5xx_rate");
  auto j = canary_job("quiet", "2.0.0", wharf::v1::TARGET_TYPE_KUBERNETES, strategy);
  kubernetes_settings(*j.spec.mutable_target_settings(), "quiet");
  j.spec.set_target_ref("k8s");
  kubernetes::KubernetesCanaryTarget target(registered(), std::chrono::milliseconds(20),
                                            std::chrono::milliseconds(50));
  ASSERT_TRUE(deploy(target, j).succeeded);
  Verdicts verdicts;
  target.set(traffic(j, Phase::kStep, 0), verdicts.sink());
  // Three probes at 1% (limit 5%): no verdict, the canary keeps its share.
  ASSERT_TRUE(eventually([&] { return prometheus().answered("quiet_5xx_rate") >= 3; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(verdicts.count(), 0u);
  EXPECT_TRUE(has_deployment("quiet-canary"));
  EXPECT_EQ(replicas("quiet-canary"), 1);
  // The same probe does see a breach: at 30% the verdict comes, once.
  prometheus().set("quiet_5xx_rate", "0.3");
  ASSERT_TRUE(eventually([&] { return verdicts.count() == 1; }, std::chrono::seconds(30)));
  EXPECT_DOUBLE_EQ(verdicts.seen[0].figures.error_rate(), 0.3);
  EXPECT_EQ(verdicts.seen[0].figures.source(), "prometheus");
}

// check_health probes settings.canary_url + the health path: here a path the
// (Prometheus) peer answers 404, so the canary is unhealthy whatever its rate.
TEST(KubernetesCanaryAnalysis, AFailingHealthCheckAbortsWhateverTheRate) {
  kubernetes().create_deployment("sick", "registry.example/web:1.0.0");
  prometheus().set("sick_5xx_rate", "0");
  auto strategy = analysed("sick_5xx_rate");
  strategy.mutable_analysis()->set_check_health(true);
  auto j = canary_job("sick", "2.0.0", wharf::v1::TARGET_TYPE_KUBERNETES, strategy);
  kubernetes_settings(*j.spec.mutable_target_settings(), "sick");
  j.spec.set_target_ref("k8s");
  (*j.spec.mutable_target_settings())["canary_url"] = prometheus().url();
  j.spec.set_health_path("/healthz");
  kubernetes::KubernetesCanaryTarget target(registered(), std::chrono::milliseconds(20),
                                            std::chrono::milliseconds(50));
  ASSERT_TRUE(deploy(target, j).succeeded);
  Verdicts verdicts;
  target.set(traffic(j, Phase::kStep, 0), verdicts.sink());
  ASSERT_TRUE(eventually([&] { return verdicts.count() == 1; }, std::chrono::seconds(30)));
  EXPECT_EQ(verdicts.seen[0].figures.source(), "health");
  EXPECT_FALSE(verdicts.seen[0].figures.healthy());
  EXPECT_EQ(verdicts.seen[0].reason, "canary health check failed");
}

// check_health without a URL to probe: the canary Deployment's readiness. A
// canary pod turning NotReady (a kwok stage, as a failing readiness probe
// would) is an unhealthy canary and an abort verdict.
TEST(KubernetesCanaryAnalysis, ACanaryPodThatTurnsNotReadyAbortsTheCanary) {
  kubernetes().create_deployment("flaky", "registry.example/web:1.0.0");
  prometheus().set("flaky_5xx_rate", "0");
  auto strategy = analysed("flaky_5xx_rate");
  strategy.mutable_analysis()->set_check_health(true);
  auto j = canary_job("flaky", "2.0.0", wharf::v1::TARGET_TYPE_KUBERNETES, strategy);
  j.spec.set_target_ref("k8s");
  kubernetes_settings(*j.spec.mutable_target_settings(), "flaky");  // no url, no canary_url
  kubernetes::KubernetesCanaryTarget target(registered(), std::chrono::milliseconds(20),
                                            std::chrono::milliseconds(50));
  ASSERT_TRUE(deploy(target, j).succeeded);
  Verdicts verdicts;
  target.set(traffic(j, Phase::kStep, 0), verdicts.sink());
  // Ready pods: three probes, no verdict.
  ASSERT_TRUE(eventually([&] { return prometheus().answered("flaky_5xx_rate") >= 3; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(verdicts.count(), 0u);
  // The canary's pod turns NotReady (its ReplicaSet keeps it: it still runs).
  auto pods = kubernetes().get("/api/v1/namespaces/default/pods?labelSelector=" +
                               std::string("wharf.dev%2Ftrack%3Dcanary,app%3Dflaky"));
  ASSERT_EQ(pods["items"].as_array().size(), 1u);
  const std::string pod(pods["items"].at(0).at("metadata").at("name").as_string());
  kubernetes().patch(
      "/api/v1/namespaces/default/pods/" + pod,
      json::object{
          {"metadata", json::object{{"labels", json::object{{"wharf.test/not-ready", "true"}}}}}});
  ASSERT_TRUE(eventually([&] { return verdicts.count() == 1; }, std::chrono::seconds(30)));
  EXPECT_EQ(verdicts.seen[0].figures.source(), "health");
  EXPECT_FALSE(verdicts.seen[0].figures.healthy());
  EXPECT_EQ(verdicts.seen[0].reason, "canary health check failed");
}

TEST(SwarmCanaryAnalysis, AnErrorRateOverTheLimitAbortsTheCanaryOnItsOwn) {
  portainer().service("hello-api", 4);
  prometheus().set("hello_swarm_5xx_rate", "0.5");
  Pipeline p(wharf::v1::TARGET_TYPE_SWARM, "hello_swarm_5xx_rate",
             [](auto& s) { swarm_settings(s, "hello-api"); });
  const std::string v2 = "registry.example/api:" + p.canary_version();
  auto aborted = automatic_abort(p.store());
  ASSERT_TRUE(aborted) << "no automatic abort";
  EXPECT_TRUE(aborted->automatic());
  EXPECT_EQ(aborted->figures().source(), "prometheus");
  EXPECT_DOUBLE_EQ(aborted->figures().error_rate(), 0.5);
  EXPECT_NE(aborted->reason().find("50.0% over the limit 5.0%"), std::string::npos)
      << aborted->reason();
  EXPECT_TRUE(eventually(
      [&] {
        auto s = portainer().services();
        return !s.contains("hello-api-canary") &&
               s.at("hello-api").at("replicas").as_int64() == 4 &&
               s.at("hello-api").at("image").as_string() != v2;
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(events_of_type(p.store(), "CanaryPromoted").empty());
}

TEST(SwarmCanaryAnalysis, AnErrorRateUnderTheLimitLeavesTheCanaryAlone) {
  portainer().service("calm", 4);
  prometheus().set("calm_5xx_rate", "0.05");  // at the limit is not over it
  auto j = canary_job("calm", "2.0.0", wharf::v1::TARGET_TYPE_SWARM, analysed("calm_5xx_rate"));
  swarm_settings(*j.spec.mutable_target_settings(), "calm");
  j.spec.set_target_ref("portainer");
  swarm::SwarmCanaryTarget target(registered(), std::chrono::milliseconds(20),
                                  std::chrono::milliseconds(50));
  ASSERT_TRUE(deploy(target, j).succeeded);
  Verdicts verdicts;
  target.set(traffic(j, Phase::kStep, 0), verdicts.sink());
  ASSERT_TRUE(eventually([&] { return prometheus().answered("calm_5xx_rate") >= 3; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(verdicts.count(), 0u);
  auto s = portainer().services();
  EXPECT_TRUE(s.contains("calm-canary"));
  EXPECT_EQ(s.at("calm-canary").at("replicas").as_int64(), 1);
  // The same probe does see a breach just over the limit.
  prometheus().set("calm_5xx_rate", "0.051");
  ASSERT_TRUE(eventually([&] { return verdicts.count() == 1; }, std::chrono::seconds(30)));
  EXPECT_DOUBLE_EQ(verdicts.seen[0].figures.error_rate(), 0.051);
}

}  // namespace
}  // namespace wharf::canary_testing
