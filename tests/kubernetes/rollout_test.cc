// kubectl's rollout-status rule and the patch wharf sends (pure).
#include "adapters/kubernetes/rollout.h"

#include <gtest/gtest.h>

#include "adapters/kubernetes/deployment_watch.h"

namespace wharf::kubernetes {
namespace {

namespace json = boost::json;

json::object deployment(int64_t generation, int64_t observed, int64_t wanted, int64_t replicas,
                        int64_t updated, int64_t available) {
  return json::object{{"metadata", json::object{{"name", "web"}, {"generation", generation}}},
                      {"spec", json::object{{"replicas", wanted}}},
                      {"status", json::object{{"observedGeneration", observed},
                                              {"replicas", replicas},
                                              {"updatedReplicas", updated},
                                              {"availableReplicas", available}}}};
}

TEST(Rollout, FollowsKubectlRolloutStatus) {
  EXPECT_EQ(rollout_of(deployment(3, 2, 3, 3, 3, 3)).state, Rollout::State::kWaiting);
  EXPECT_NE(rollout_of(deployment(3, 2, 3, 3, 3, 3)).message.find("spec update"),
            std::string::npos);
  EXPECT_EQ(rollout_of(deployment(3, 3, 3, 4, 1, 1)).message,
            "1 of 3 new replicas have been updated");
  EXPECT_EQ(rollout_of(deployment(3, 3, 3, 4, 3, 3)).message,
            "1 old replicas are pending termination");
  EXPECT_EQ(rollout_of(deployment(3, 3, 3, 3, 3, 2)).message,
            "2 of 3 updated replicas are available");
  const Rollout done = rollout_of(deployment(3, 3, 3, 3, 3, 3));
  EXPECT_EQ(done.state, Rollout::State::kDone);
  EXPECT_EQ(done.message, "deployment \"web\" successfully rolled out");
}

TEST(Rollout, ProgressDeadlineExceededFails) {
  json::object d = deployment(2, 2, 3, 4, 1, 0);
  d["status"].as_object()["conditions"] = json::array{
      json::object{
          {"type", "Available"}, {"status", "False"}, {"reason", "MinimumReplicasUnavailable"}},
      json::object{{"type", "Progressing"},
                   {"status", "False"},
                   {"reason", "ProgressDeadlineExceeded"},
                   {"message", "ReplicaSet \"web-7d\" has timed out progressing."}}};
  const Rollout r = rollout_of(d);
  EXPECT_EQ(r.state, Rollout::State::kFailed);
  EXPECT_NE(r.message.find("has timed out progressing"), std::string::npos);
}

TEST(Rollout, NoReplicasFieldMeansOne) {
  json::object d = deployment(1, 1, 1, 1, 1, 1);
  d["spec"].as_object().erase("replicas");
  EXPECT_EQ(rollout_of(d).state, Rollout::State::kDone);
}

TEST(Rollout, PatchMergesOneContainerByNameAndMarksTheDeploy) {
  PatchInput input{"app", "registry/web:1.2.0", "d-1#2", "1.2.0", 3, {{"GREETING", "hi"}}};
  const json::value patch = json::parse(strategic_merge_patch(input));
  const auto& spec = patch.at("spec").as_object();
  EXPECT_EQ(spec.at("replicas").as_int64(), 3);
  const auto& containers = spec.at("template").at("spec").at("containers").as_array();
  ASSERT_EQ(containers.size(), 1u);  // merged by name: other containers untouched
  EXPECT_EQ(containers[0].at("name").as_string(), "app");
  EXPECT_EQ(containers[0].at("image").as_string(), "registry/web:1.2.0");
  EXPECT_EQ(containers[0].at("env").as_array()[0].at("name").as_string(), "GREETING");
  EXPECT_EQ(spec.at("template").at("metadata").at("annotations").at(kDeployAnnotation).as_string(),
            "d-1#2");
  EXPECT_EQ(deploy_key_of(patch.as_object()), "d-1#2");
  EXPECT_FALSE(patch.at("metadata").as_object().contains("resourceVersion"));
  input.resource_version = "4711";  // a conditional PATCH: 409 when the Deployment moved on
  EXPECT_EQ(resource_version_of(json::parse(strategic_merge_patch(input)).as_object()), "4711");
  input.replicas = 0;
  EXPECT_FALSE(
      json::parse(strategic_merge_patch(input)).at("spec").as_object().contains("replicas"));
}

TEST(WatchEvents, ParsesTypeAndObjectAndSkipsWhatIsNotAnEvent) {
  auto modified = parse_watch_event(
      R"({"type":"MODIFIED","object":{"kind":"Deployment","metadata":{"name":"web",)"
      R"("resourceVersion":"812"}}})");
  ASSERT_TRUE(modified);
  EXPECT_EQ(modified->type, "MODIFIED");
  EXPECT_EQ(resource_version_of(modified->object), "812");
  auto gone = parse_watch_event(
      R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired",)"
      R"("code":410,"message":"too old resource version: 5 [812]"}})");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->type, "ERROR");
  EXPECT_EQ(gone->object.at("code").as_int64(), 410);
  EXPECT_FALSE(parse_watch_event(""));
  EXPECT_FALSE(parse_watch_event("{\"type\":\"ADDED\"}"));
  EXPECT_FALSE(parse_watch_event("not json"));
}

}  // namespace
}  // namespace wharf::kubernetes
