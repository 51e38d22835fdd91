// Every kind of bad input gets its own error code and status, never a crash.
#include "tests/api/api_test_support.h"

namespace wharf::api::testing {
namespace {

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override { h.create_project("shop", "alice"); }
  HttpResult request_permission(const std::string& body) {
    return h.post("/api/v1/permissions/requests", body, h.token_for("bob"));
  }
  ApiHarness h;
};

TEST_F(BadInputTest, MalformedJson) {
  auto r = request_permission(R"({"project": "shop",)");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "malformed_json");
}

TEST_F(BadInputTest, UnknownField) {
  auto r = request_permission(R"({"project":"shop","role":"viewer","colour":"red"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "unknown_field");
  EXPECT_EQ(r.json().at("error").at("details").at("field").as_string(), "colour");
}

TEST_F(BadInputTest, WrongType) {
  auto r = request_permission(R"({"project":42,"role":"viewer"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "wrong_type");
  EXPECT_EQ(r.json().at("error").at("details").at("field").as_string(), "project");
}

// Kubernetes and Swarm take canaries; what their traffic cannot do is
// refused with the field and why (docs/canary.md#kubernetes-and-swarm).
TEST_F(BadInputTest, CanaryOnKubernetesAndSwarmRefusesOnlyWhatCannotWork) {
  const auto define = [&](const std::string& target, const std::string& settings,
                          const std::string& extra) {
    Client c(h.port());
    return c.request(beast::http::verb::put, "/api/v1/projects/shop/environments/prod",
                     h.token_for("alice"),
                     R"({"target":")" + target + R"(","settings":{)" + settings +
                         R"(},"canary":{"steps":[{"weight":10,"pause":"manual"},{"weight":100}])" +
                         extra + "}}");
  };
  const auto refused = [&](const std::string& target, const std::string& settings,
                           const std::string& extra, const std::string& field,
                           const std::string& says) {
    auto r = define(target, settings, extra);
    EXPECT_EQ(r.status, 400u) << target << extra << ": " << r.body;
    if (r.status != 400u) return;
    EXPECT_EQ(r.error_code(), "invalid_value");
    EXPECT_EQ(r.json().at("error").at("details").at("field").as_string(), field);
    EXPECT_NE(r.body.find(says), std::string::npos) << r.body;
  };
  const std::string header = R"(,"match":{"header":"X-Canary","header_value":"1"})";
  const std::string ingress = R"("ingress":"web")";
  for (const char* target : {"local", "kubernetes", "swarm"}) {
    auto accepted = define(target, "", "");
    EXPECT_EQ(accepted.status, 202u) << target << ": " << accepted.body;
  }
  auto nginx = define("kubernetes", ingress, R"(,"mode":"ingress-nginx")" + header);
  EXPECT_EQ(nginx.status, 202u) << nginx.body;
  refused("swarm", "", header, "canary.match", "Swarm has no header or cookie routing");
  refused("swarm", "", R"(,"mode":"ingress-nginx")", "canary.mode", "is for Kubernetes");
  refused("kubernetes", "", header, "canary.match", R"(needs canary.mode \"ingress-nginx\")");
  refused("kubernetes", "", R"(,"mode":"ingress-nginx")", "settings.ingress",
          "needs settings.ingress");
  refused("kubernetes", ingress,
          R"(,"mode":"ingress-nginx","match":{"cookie":"canary","cookie_value":"yes"})",
          "canary.match.cookie_value", R"(only when its value is \"always\")");
  // Analysis on a cluster target reads a Prometheus query (no router counts there).
  for (const char* target : {"kubernetes", "swarm"}) {
    refused(target, "", R"(,"analysis":{"max_error_rate":0.1,"check_health":true})",
            "canary.analysis.prometheus_query_url", "needs canary.analysis.prometheus_query_url");
    auto analysed = define(
        target, "",
        R"(,"analysis":{"max_error_rate":0.1,"prometheus_query_url":"http://prom:9090/api/v1/query?query=x"})");
    EXPECT_EQ(analysed.status, 202u) << target << ": " << analysed.body;
  }
}

// A Dubbo canary's settings are checked when the environment is defined
// (docs/canary.md#dubbo): a bad one is a 400 naming the field.
TEST_F(BadInputTest, DubboCanarySettingsAreRefusedNamingTheField) {
  // The config center is the ZooKeeper target settings.dubbo_config_center
  // names (`center`; docs/targets.md).
  const auto define = [&](const std::string& target, const std::string& settings,
                          const std::string& extra = "", const std::string& center = "zk") {
    Client c(h.port());
    return c.request(
        beast::http::verb::put, "/api/v1/projects/shop/environments/prod", h.token_for("alice"),
        R"({"target":")" + target + R"(","settings":{)" +
            (center.empty() ? "" : R"("dubbo_config_center":")" + center + R"(",)") + settings +
            R"(},"canary":{"mode":"dubbo","steps":[{"weight":25,"pause":"manual"},{"weight":100}])" +
            extra + "}}");
  };
  const auto refused = [&](const std::string& target, const std::string& settings,
                           const std::string& extra, const std::string& field,
                           const std::string& center = "zk") {
    auto r = define(target, settings, extra, center);
    EXPECT_EQ(r.status, 400u) << settings << extra << ": " << r.body;
    if (r.status != 400u) return;
    EXPECT_EQ(r.error_code(), "invalid_value");
    EXPECT_EQ(r.json().at("error").at("details").at("field").as_string(), field) << r.body;
  };
  const std::string ok = R"("dubbo_interface":"demo.Greeter")";
  auto accepted = define("local", ok);
  EXPECT_EQ(accepted.status, 202u) << accepted.body;
  auto tagged = define("local", R"("dubbo_route":"tag","dubbo_application":"greeter")");
  EXPECT_EQ(tagged.status, 202u) << tagged.body;
  refused("local", R"("dubbo_route":"weight")", "", "settings.dubbo_interface");
  // The connect string is the target's, never a setting; no target is refused.
  refused("local", ok + R"(,"dubbo_zookeeper":"127.0.0.1:2181")", "", "settings.dubbo_zookeeper");
  refused("local", ok, "", "settings.dubbo_config_center", "");
  refused("local", ok + R"(,"dubbo_route":"both")", "", "settings.dubbo_route");
  refused("local", R"("dubbo_route":"tag")", "", "settings.dubbo_application");
  refused("local", ok + R"(,"dubbo_canary_label":"canary")", "", "settings.dubbo_canary_label");
  refused("local", ok + R"(,"dubbo_tag_force":"yes")", "", "settings.dubbo_tag_force");
  refused("local", ok + R"(,"dubbo_user_rule":"overwrite")", "", "settings.dubbo_user_rule");
  refused("local", ok, R"(,"match":{"header":"X-Canary"})", "canary.match");
  refused("local", ok, R"(,"analysis":{"max_error_rate":0.1})",
          "canary.analysis.prometheus_query_url");
  // The canary instance runs on the environment's target: Kubernetes and
  // Swarm environments take a Dubbo canary too.
  auto on_kubernetes = define("kubernetes", ok + R"(,"deployment":"greeter")");
  EXPECT_EQ(on_kubernetes.status, 202u) << on_kubernetes.body;
  auto on_swarm = define("swarm", ok + R"(,"service":"greeter")");
  EXPECT_EQ(on_swarm.status, 202u) << on_swarm.body;
  refused("kubernetes", ok, "", "settings.dubbo_config_center", "");
}

TEST_F(BadInputTest, BodyThatIsNotAnObject) {
  auto r = request_permission(R"(["project"])");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "wrong_type");
}

TEST_F(BadInputTest, InvalidEnumValue) {
  auto r = request_permission(R"({"project":"shop","role":"emperor"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "invalid_enum");
  auto details = r.json().at("error").at("details");
  EXPECT_EQ(details.at("value").as_string(), "emperor");
  EXPECT_EQ(details.at("allowed").as_array().size(), 3u);
}

TEST_F(BadInputTest, InvalidUtf8) {
  auto r = request_permission("{\"project\":\"sh\xC3\x28op\",\"role\":\"viewer\"}");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "invalid_utf8");
}

TEST_F(BadInputTest, MissingField) {
  auto r = request_permission(R"({"role":"viewer"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "missing_field");
}

TEST_F(BadInputTest, QueryParameterOfWrongType) {
  auto r = h.get("/api/v1/events?limit=ten", h.admin_token());
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "wrong_type");
}

TEST_F(BadInputTest, QueryParameterOutOfRange) {
  auto r = h.get("/api/v1/events?limit=100000", h.admin_token());
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "invalid_value");
}

TEST_F(BadInputTest, QueryEnumOutOfRange) {
  auto r = h.get("/api/v1/streams/project-shop?direction=sideways", h.admin_token());
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "invalid_enum");
}

TEST_F(BadInputTest, ValidRequestIsAccepted) {
  auto r = request_permission(R"({"project":"shop","role":"viewer","reason":"on call"})");
  EXPECT_EQ(r.status, 202u) << r.body;
  EXPECT_FALSE(r.json().at("request_id").as_string().empty());
}

}  // namespace
}  // namespace wharf::api::testing
