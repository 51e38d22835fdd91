// The pure parts of the Kubernetes and Swarm canaries: the weight -> replica
// split and the canary objects built from the stable ones.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/kubernetes/canary_target.h"
#include "adapters/remote_deploy/canary_queue.h"
#include "adapters/swarm/canary_target.h"

namespace wharf {
namespace {

namespace json = boost::json;
using remote_deploy::replica_split;

TEST(ReplicaSplit, CanaryIsTheCeilingOfItsShareAndOneStableReplicaStays) {
  EXPECT_EQ(replica_split(4, 10).canary, 1u);
  EXPECT_EQ(replica_split(4, 10).stable, 3u);
  EXPECT_EQ(replica_split(4, 50).canary, 2u);
  EXPECT_EQ(replica_split(4, 50).stable, 2u);
  EXPECT_EQ(replica_split(10, 25).canary, 3u);
  EXPECT_EQ(replica_split(10, 25).stable, 7u);
  EXPECT_EQ(replica_split(4, 99).canary, 3u);  // never every replica below 100%
  EXPECT_EQ(replica_split(4, 99).stable, 1u);
  EXPECT_EQ(replica_split(1, 10).canary, 1u);  // one replica: one of each
  EXPECT_EQ(replica_split(1, 10).stable, 1u);
  EXPECT_EQ(replica_split(4, 0).canary, 0u);
  EXPECT_EQ(replica_split(4, 0).stable, 4u);
  EXPECT_EQ(replica_split(4, 100).canary, 4u);
  EXPECT_EQ(replica_split(4, 100).stable, 0u);
}

TEST(KubernetesCanaryObjects, AnnotationsFollowTheMatch) {
  wharf::v1::CanaryMatch match;
  auto a = kubernetes::canary_annotations(10, match);
  EXPECT_EQ(a.size(), 2u);  // canary + canary-weight only
  EXPECT_EQ(a.at("nginx.ingress.kubernetes.io/canary-weight").as_string(), "10");
  match.set_header("X-Canary");
  a = kubernetes::canary_annotations(10, match);
  EXPECT_EQ(a.at("nginx.ingress.kubernetes.io/canary-by-header-pattern").as_string(), ".*");
  match.set_header_value("1");
  match.set_cookie("canary");
  a = kubernetes::canary_annotations(50, match);
  EXPECT_EQ(a.at("nginx.ingress.kubernetes.io/canary-by-header-value").as_string(), "1");
  EXPECT_FALSE(a.contains("nginx.ingress.kubernetes.io/canary-by-header-pattern"));
  EXPECT_EQ(a.at("nginx.ingress.kubernetes.io/canary-by-cookie").as_string(), "canary");
  a = kubernetes::canary_annotations(0, match, true);
  EXPECT_EQ(a.at("nginx.ingress.kubernetes.io/canary-weight").as_string(), "0");
  EXPECT_TRUE(a.at("nginx.ingress.kubernetes.io/canary-by-header").is_null());
  EXPECT_TRUE(a.at("nginx.ingress.kubernetes.io/canary-by-cookie").is_null());
}

TEST(KubernetesCanaryObjects, TheCanaryIngressPointsOnlyTheStableServiceAtTheCanary) {
  kubernetes::CanaryNames names;
  names.ingress = true;
  names.stable_service = "web";
  names.service = "web-canary";
  names.ingress_name = "web-canary";
  auto stable = json::parse(R"({"metadata":{"name":"web","namespace":"shop",
      "annotations":{"kubernetes.io/ingress.class":"nginx","other":"x"}},
      "spec":{"rules":[{"http":{"paths":[
        {"path":"/","backend":{"service":{"name":"web","port":{"number":80}}}},
        {"path":"/docs","backend":{"service":{"name":"docs","port":{"number":80}}}}]}}]}})")
                    .as_object();
  auto ingress = kubernetes::canary_ingress(stable, names, 10, {});
  const auto& paths = ingress.at("spec").at("rules").at(0).at("http").at("paths").as_array();
  EXPECT_EQ(paths[0].at("backend").at("service").at("name").as_string(), "web-canary");
  EXPECT_EQ(paths[1].at("backend").at("service").at("name").as_string(), "docs");
  const auto& a = ingress.at("metadata").at("annotations").as_object();
  EXPECT_EQ(a.at("kubernetes.io/ingress.class").as_string(), "nginx");
  EXPECT_FALSE(a.contains("other"));
  EXPECT_EQ(ingress.at("metadata").at("namespace").as_string(), "shop");
}

TEST(SwarmCanaryObjects, TheCanaryCopyDropsPublishedPortsAndJoinsUnderTheStableName) {
  auto stable = json::parse(R"({"ID":"x","Spec":{"Name":"api","Labels":{"wharf.deploy":"d#1"},
      "TaskTemplate":{"ContainerSpec":{"Image":"api:1"},"Networks":[{"Target":"net1"}]},
      "Mode":{"Replicated":{"Replicas":4}},
      "EndpointSpec":{"Mode":"vip","Ports":[{"TargetPort":8080,"PublishedPort":80}]}}})")
                    .as_object();
  auto spec = swarm::canary_copy(stable, "api-canary", 1, 4);
  EXPECT_EQ(spec.at("Name").as_string(), "api-canary");
  EXPECT_EQ(spec.at("Mode").at("Replicated").at("Replicas").to_number<int64_t>(), 1);
  EXPECT_FALSE(spec.at("EndpointSpec").as_object().contains("Ports"));
  EXPECT_EQ(spec.at("TaskTemplate").at("Networks").at(0).at("Aliases").at(0).as_string(), "api");
  const auto& labels = spec.at("Labels").as_object();
  EXPECT_FALSE(labels.contains("wharf.deploy"));
  EXPECT_EQ(labels.at("wharf.canary-of").as_string(), "api");
  EXPECT_EQ(labels.at("wharf.canary.total").as_string(), "4");
  EXPECT_EQ(swarm::replicas_of(stable), 4u);
}

}  // namespace
}  // namespace wharf
