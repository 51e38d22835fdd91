// Dubbo canaries on Kubernetes and Swarm (docs/canary.md#dubbo): the canary
// instance is the environment kind's canary Deployment (a real Kubernetes
// control plane, tests/peers/kubernetes_cluster.h) or canary service
// (tests/peers/portainer), its DUBBO_LABELS carrying the canary label; the
// rules go to a real ZooKeeper 3.9.5, registered as a target of kind
// zookeeper with a digest credential that settings.dubbo_config_center
// names. No kubelet runs here, so no provider process starts: the tests
// check the objects written and the rules in ZooKeeper; where a weight needs
// registered providers, the test registers them as the canary pod's Dubbo
// would, with the labels the canary Deployment's env carries.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <mutex>

#include "adapters/dubbo/canary_target.h"
#include "adapters/dubbo/zookeeper_rule_store.h"
#include "adapters/kubernetes/canary_target.h"
#include "adapters/swarm/canary_target.h"
#include "tests/canary/canary_support.h"
#include "tests/canary/peers.h"
#include "tests/dubbo/dubbo_peers.h"
#include "tests/dubbo/provider_url.h"
#include "tests/peers/kubernetes_cluster.h"
#include "tests/targets/test_targets.h"

namespace wharf::dubbo {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace wharf::canary_testing;
using Phase = engine::CanaryTraffic::Phase;
using wharf::testing::KubernetesCluster;

const std::string kDigest = "wharf:pw-remote";

// One ZooKeeper, Kubernetes control plane and Portainer peer per binary.
struct Peers {
  Peers() : dir(fs::temp_directory_path() / ("wharf-dubbo-remote-" + std::to_string(::getpid()))) {
    fs::create_directories(dir);
    testing::run_command(testing::peer_dir() + "/fetch >/dev/null");
    zk = testing::run_command("WHARF_ZK_OWNER_PID=" + std::to_string(::getpid()) + " " +
                              testing::peer_dir() + "/zk-start " + (dir / "zk").string());
    wharf::testing::kubernetes_cluster().connect(targets, "k8s");
    targets.portainer("peer", portainer.url(), "1", {{"api_key", "ptr_testkey"}});
    targets.zookeeper("zk", "zookeeper://" + zk,
                      {{"username", "wharf"}, {"password", "pw-remote"}});
  }
  ~Peers() {
    std::system(
        (testing::peer_dir() + "/zk-stop " + (dir / "zk").string() + " --kill >/dev/null 2>&1")
            .c_str());
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path dir;
  std::string zk;
  PortainerPeer portainer;
  targets::testing::TestTargets targets;
};

Peers& peers() {
  static Peers p;
  return p;
}
const KubernetesCluster& cluster() {
  return wharf::testing::kubernetes_cluster();
}

// The three canary targets as serve wires them (adapters/runtime): the Dubbo
// one moves the calls and hands the promotion and abort of the canary
// instances to the kind's target.
class DubboRemote : public ::testing::Test {
 protected:
  DubboRemote()
      : kubernetes(peers().targets, 20ms, 50ms),
        swarm(peers().targets, 20ms, 50ms),
        reader(ZookeeperOptions{peers().zk, kDigest}) {
    DubboTargetOptions options;
    options.targets = &peers().targets;
    options.retry = 50ms;
    options.max_retry = 100ms;
    options.tries = 3;
    options.remote_instances = [this](const engine::CanaryTraffic& t) {
      return t.spec.target() == wharf::v1::TARGET_TYPE_KUBERNETES ? kubernetes.apply(t)
                                                                  : swarm.apply(t);
    };
    dubbo = std::make_unique<DubboCanaryTarget>(
        nullptr,
        [this](const engine::RecordDubboRule& cmd,
               const std::string&) -> Expected<void, std::string> {
          std::lock_guard lock(mutex);
          recorded.push_back(cmd.rule);
          return {};
        },
        options);
  }

  // A canary of `version` for `name` on `target` (the kind's settings, the
  // Dubbo route and the config center "zk").
  engine::DeployJob job(const std::string& name, const std::string& version,
                        wharf::v1::TargetType target, const std::string& route) {
    wharf::v1::CanaryStrategy strategy;
    for (uint32_t w : {25u, 100u}) {
      auto* step = strategy.add_steps();
      step->set_weight(w);
      step->set_manual(w < 100);
    }
    strategy.set_mode("dubbo");
    auto j = canary_job(name, version, target, strategy);
    (*j.spec.mutable_config())["DUBBO_LABELS"] = "region=eu";
    auto& s = *j.spec.mutable_target_settings();
    if (target == wharf::v1::TARGET_TYPE_KUBERNETES) {
      j.spec.set_target_ref("k8s");
      s["deployment"] = name;
      s["container"] = "app";
      s["rollout_timeout_s"] = "30";
    } else {
      j.spec.set_target_ref("peer");
      s["service"] = name;
      s["update_timeout_s"] = "30";
    }
    s["image"] = "registry.example/" + name + ":{version}";
    s["url"] = "https://" + name + ".example";
    s["dubbo_config_center"] = "zk";
    s["dubbo_route"] = route;
    s["dubbo_application"] = name;
    std::string iface = "demo." + name;  // a Java name: no '-'
    std::replace(iface.begin(), iface.end(), '-', '_');
    s["dubbo_interface"] = iface;
    return j;
  }

  std::optional<Rule> rule(const std::string& path) {
    auto r = reader.get(path);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::nullopt;
  }
  std::vector<wharf::v1::Payload::KindCase> kinds() {
    std::lock_guard lock(mutex);
    std::vector<wharf::v1::Payload::KindCase> out;
    for (const auto& p : recorded) out.push_back(p.kind_case());
    return out;
  }

  kubernetes::KubernetesCanaryTarget kubernetes;
  swarm::SwarmCanaryTarget swarm;
  ZookeeperRuleStore reader;
  std::unique_ptr<DubboCanaryTarget> dubbo;
  std::mutex mutex;
  std::vector<wharf::v1::Payload> recorded;
};

// The container's env value `name` ("" when absent).
std::string env_of(const json::object& deployment, const std::string& name) {
  const auto& c =
      deployment.at("spec").at("template").at("spec").at("containers").at(0).as_object();
  if (const auto* env = c.if_contains("env")) {
    for (const auto& e : env->as_array()) {
      if (e.at("name").as_string() == name) return std::string(e.at("value").as_string());
    }
  }
  return "";
}
// A Swarm service's env entry NAME=value, without "NAME=" ("" when absent).
std::string env_of(json::object& services, const std::string& service, const std::string& name) {
  for (const auto& e : services.at(service).at("env").as_array()) {
    const std::string entry(e.as_string());
    if (entry.rfind(name + "=", 0) == 0) return entry.substr(name.size() + 1);
  }
  return "";
}

const std::string kTagRule = "/dubbo/config/dubbo/";

TEST_F(DubboRemote, AKubernetesCanaryIsALabelledDeploymentAndItsAbortRemovesRuleAndDeployment) {
  cluster().create_deployment("greeter-k8s", "registry.example/greeter-k8s:1.0.0", {.replicas = 2});
  const auto j = job("greeter-k8s", "2.0.0", wharf::v1::TARGET_TYPE_KUBERNETES, "tag");
  const auto outcome = deploy(kubernetes, j);
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;

  // One canary pod carrying the canary label beside the config's, and the
  // deploy's own; the stable Deployment keeps its replicas and image.
  auto canary = cluster().deployment("greeter-k8s-canary");
  EXPECT_EQ(canary["spec"].at("replicas").as_int64(), 1);
  EXPECT_EQ(KubernetesCluster::first_image(canary), "registry.example/greeter-k8s:2.0.0");
  EXPECT_EQ(env_of(canary, "DUBBO_LABELS"), "region=eu;env=canary;wharf_deploy=" + j.deploy_id);
  EXPECT_EQ(
      canary["spec"].at("template").at("metadata").at("labels").at("wharf.dev/track").as_string(),
      "canary");
  EXPECT_TRUE(cluster().rolled_out("greeter-k8s-canary", 30s));
  EXPECT_EQ(cluster().deployment("greeter-k8s")["spec"].at("replicas").as_int64(), 2);

  // The step is a tag rule in ZooKeeper selecting the canary label; the
  // replicas do not move.
  ASSERT_EQ(apply(*dubbo, traffic(j, Phase::kStep, 0)), "");
  const std::string path = kTagRule + "greeter-k8s.tag-router";
  auto written = rule(path);
  ASSERT_TRUE(written);
  EXPECT_EQ(written->data.rfind("# wharf canary", 0), 0u) << written->data;
  EXPECT_NE(written->data.find("env"), std::string::npos) << written->data;
  EXPECT_EQ(cluster().deployment("greeter-k8s")["spec"].at("replicas").as_int64(), 2);
  EXPECT_EQ(cluster().deployment("greeter-k8s-canary")["spec"].at("replicas").as_int64(), 1);

  // Abort: the rule goes first, then the canary Deployment; the stable one
  // is as it was.
  ASSERT_EQ(apply(*dubbo, traffic(j, Phase::kAborted)), "");
  EXPECT_FALSE(rule(path));
  EXPECT_FALSE(cluster().find(KubernetesCluster::deployment_path("greeter-k8s-canary")));
  auto stable = cluster().deployment("greeter-k8s");
  EXPECT_EQ(stable["spec"].at("replicas").as_int64(), 2);
  EXPECT_EQ(KubernetesCluster::first_image(stable), "registry.example/greeter-k8s:1.0.0");
  EXPECT_EQ(kinds(), (std::vector{wharf::v1::Payload::kDubboRuleWritten,
                                  wharf::v1::Payload::kDubboRuleRemoved}));
}

TEST_F(DubboRemote, AKubernetesCanaryByWeightIsPromotedWithoutTheCanaryLabel) {
  cluster().create_deployment("greeter-w", "registry.example/greeter-w:1.0.0", {.replicas = 3});
  const auto j = job("greeter-w", "2.0.0", wharf::v1::TARGET_TYPE_KUBERNETES, "weight");
  ASSERT_TRUE(deploy(kubernetes, j).succeeded);
  // The providers as the pods' Dubbo registers them: three stable ones and
  // the canary with the labels its Deployment's env gives it.
  const std::string labels = env_of(cluster().deployment("greeter-w-canary"), "DUBBO_LABELS");
  std::string params;
  for (size_t start = 0; start < labels.size();) {
    const size_t end = std::min(labels.find(';', start), labels.size());
    params += "&" + labels.substr(start, end - start);
    start = end + 1;
  }
  ZookeeperRuleStore registry(ZookeeperOptions{peers().zk, ""});
  const std::string providers = "/dubbo/demo.greeter_w/providers/";
  for (const char* address : {"10.244.0.11:20880", "10.244.0.12:20880", "10.244.0.13:20880"}) {
    ASSERT_TRUE(registry.create(
        providers + testing::provider(address, "&region=eu", "demo.greeter_w"), ""));
  }
  ASSERT_TRUE(registry.create(
      providers + testing::provider("10.244.0.14:20880", params, "demo.greeter_w"), ""));

  // 25 % of the calls: the one canary at 100·25·3/75 = 100 beside three at 100.
  ASSERT_EQ(apply(*dubbo, traffic(j, Phase::kStep, 0)), "");
  const std::string path = kTagRule + "demo.greeter_w::.configurators";
  auto written = rule(path);
  ASSERT_TRUE(written);
  EXPECT_NE(written->data.find("10.244.0.14:20880"), std::string::npos) << written->data;
  EXPECT_NE(written->data.find("weight: 100"), std::string::npos) << written->data;
  EXPECT_EQ(written->data.find("10.244.0.11"), std::string::npos) << written->data;

  // Promotion: the stable Deployment runs the canary's image with the
  // config's labels only (not the canary label), then the canary
  // Deployment and the rule go.
  ASSERT_EQ(apply(*dubbo, traffic(j, Phase::kPromoted)), "");
  auto stable = cluster().deployment("greeter-w");
  EXPECT_EQ(KubernetesCluster::first_image(stable), "registry.example/greeter-w:2.0.0");
  EXPECT_EQ(env_of(stable, "DUBBO_LABELS"), "region=eu");
  EXPECT_EQ(stable["spec"].at("replicas").as_int64(), 3);
  EXPECT_TRUE(cluster().rolled_out("greeter-w", 30s));
  EXPECT_FALSE(cluster().find(KubernetesCluster::deployment_path("greeter-w-canary")));
  EXPECT_FALSE(rule(path));
}

TEST_F(DubboRemote, ASwarmCanaryIsALabelledServiceAbortedThenPromoted) {
  peers().portainer.service("greeter-s", 2);
  const std::string path = kTagRule + "greeter-s.tag-router";
  const auto first = job("greeter-s", "2.0.0", wharf::v1::TARGET_TYPE_SWARM, "tag");
  ASSERT_TRUE(deploy(swarm, first).succeeded);
  auto services = peers().portainer.services();
  ASSERT_TRUE(services.contains("greeter-s-canary"));
  EXPECT_EQ(services.at("greeter-s-canary").at("replicas").as_int64(), 1);
  EXPECT_EQ(env_of(services, "greeter-s-canary", "DUBBO_LABELS"),
            "region=eu;env=canary;wharf_deploy=" + first.deploy_id);
  EXPECT_EQ(services.at("greeter-s").at("replicas").as_int64(), 2);

  ASSERT_EQ(apply(*dubbo, traffic(first, Phase::kStep, 0)), "");
  ASSERT_TRUE(rule(path));
  EXPECT_EQ(peers().portainer.services().at("greeter-s").at("replicas").as_int64(), 2);
  ASSERT_EQ(apply(*dubbo, traffic(first, Phase::kAborted)), "");
  EXPECT_FALSE(rule(path));
  services = peers().portainer.services();
  EXPECT_FALSE(services.contains("greeter-s-canary"));
  EXPECT_EQ(services.at("greeter-s").at("replicas").as_int64(), 2);
  EXPECT_EQ(services.at("greeter-s").at("image").as_string(), "registry.example/api:1.0.0");

  const auto second = job("greeter-s", "3.0.0", wharf::v1::TARGET_TYPE_SWARM, "tag");
  ASSERT_TRUE(deploy(swarm, second).succeeded);
  ASSERT_EQ(apply(*dubbo, traffic(second, Phase::kStep, 0)), "");
  ASSERT_TRUE(rule(path));
  ASSERT_EQ(apply(*dubbo, traffic(second, Phase::kPromoted)), "");
  EXPECT_FALSE(rule(path));
  services = peers().portainer.services();
  EXPECT_FALSE(services.contains("greeter-s-canary"));
  EXPECT_EQ(services.at("greeter-s").at("image").as_string(), "registry.example/greeter-s:3.0.0");
  EXPECT_EQ(env_of(services, "greeter-s", "DUBBO_LABELS"), "region=eu");
  EXPECT_EQ(services.at("greeter-s").at("replicas").as_int64(), 2);
}

}  // namespace
}  // namespace wharf::dubbo
