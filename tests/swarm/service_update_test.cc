// The full-spec rewrite and the UpdateStatus verdict (pure).
#include "adapters/swarm/service_update.h"

#include <gtest/gtest.h>

namespace wharf::swarm {
namespace {

namespace json = boost::json;

json::object service() {
  return json::parse(R"({"ID":"s1","Version":{"Index":7},"Portainer":{"ResourceControl":null},
    "Spec":{"Name":"web","Labels":{"team":"shop"},
      "TaskTemplate":{"ContainerSpec":{"Image":"web:1","Env":["KEEP=1","GREETING=old"]},"ForceUpdate":2},
      "Mode":{"Replicated":{"Replicas":2}},"UpdateConfig":{"FailureAction":"pause"}}})")
      .as_object();
}

TEST(ServiceUpdate, KeepsTheSpecAndChangesOnlyWhatTheDeployNames) {
  const json::object spec = updated_spec(service(), {"web:2", "d-1#1", 3, {{"GREETING", "hi"}}});
  EXPECT_FALSE(spec.contains("Portainer"));
  EXPECT_EQ(spec.at("Name").as_string(), "web");
  EXPECT_EQ(spec.at("UpdateConfig").at("FailureAction").as_string(), "pause");
  const auto& container = spec.at("TaskTemplate").at("ContainerSpec").as_object();
  EXPECT_EQ(container.at("Image").as_string(), "web:2");
  EXPECT_EQ(json::serialize(container.at("Env")), R"(["GREETING=hi","KEEP=1"])");
  EXPECT_EQ(spec.at("TaskTemplate").at("ForceUpdate").as_int64(), 3);
  EXPECT_EQ(spec.at("Mode").at("Replicated").at("Replicas").as_uint64(), 3u);
  EXPECT_EQ(spec.at("Labels").at("team").as_string(), "shop");
  json::object updated = service();
  updated["Spec"] = spec;
  EXPECT_EQ(deploy_key_of(updated), "d-1#1");
  EXPECT_EQ(deploy_key_of(service()), "");
}

TEST(ServiceUpdate, VerdictFollowsUpdateStatus) {
  json::object s = service();
  EXPECT_EQ(verdict_of(s).state, UpdateVerdict::State::kWaiting);  // no update yet
  s["UpdateStatus"] = json::object{{"State", "updating"}};
  EXPECT_EQ(verdict_of(s).state, UpdateVerdict::State::kWaiting);
  s["UpdateStatus"] = json::object{{"State", "completed"}, {"Message", "update completed"}};
  EXPECT_EQ(verdict_of(s).state, UpdateVerdict::State::kDone);
  s["UpdateStatus"] = json::object{{"State", "paused"}, {"Message", "task x1 failed"}};
  EXPECT_EQ(verdict_of(s).state, UpdateVerdict::State::kFailed);
  EXPECT_EQ(verdict_of(s).message, "service update paused: task x1 failed");
  s["UpdateStatus"] = json::object{{"State", "rollback_completed"}};
  EXPECT_EQ(verdict_of(s).state, UpdateVerdict::State::kFailed);
}

}  // namespace
}  // namespace wharf::swarm
