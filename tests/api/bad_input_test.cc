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

TEST_F(BadInputTest, CanaryOnlyOnLocalTargets) {
  const auto define = [&](const std::string& target) {
    Client c(h.port());
    return c.request(
        beast::http::verb::put, "/api/v1/projects/shop/environments/prod", h.token_for("alice"),
        R"({"target":")" + target +
            R"(","canary":{"steps":[{"weight":10,"pause":"manual"},{"weight":100}]}})");
  };
  auto refused = define("kubernetes");
  EXPECT_EQ(refused.status, 400u) << refused.body;
  EXPECT_EQ(refused.error_code(), "invalid_value");
  EXPECT_EQ(refused.json().at("error").at("details").at("field").as_string(), "canary");
  EXPECT_EQ(define("swarm").status, 400u);
  auto accepted = define("local");
  EXPECT_EQ(accepted.status, 202u) << accepted.body;
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
