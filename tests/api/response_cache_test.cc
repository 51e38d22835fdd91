// The response cache (api/response_cache.h): an answer is served again only
// while the log's head has not moved, bodies are the same bytes the query
// renders, auth runs on every request (a revoked role is refused even when
// the answer is cached), and the cache is bounded.
#include "api/response_cache.h"
#include "tests/api/api_test_support.h"

namespace wharf::api::testing {
namespace {

TEST(ResponseCacheUnit, ServesOnlyAtTheSamePosition) {
  ResponseCache cache(8);
  EXPECT_EQ(cache.get("k", 5), nullptr);
  cache.put("k", 5, "five");
  ASSERT_NE(cache.get("k", 5), nullptr);
  EXPECT_EQ(*cache.get("k", 5), "five");
  EXPECT_EQ(cache.get("k", 6), nullptr) << "the log moved: stale";
  EXPECT_EQ(cache.get("k", 4), nullptr);
  cache.put("k", 6, "six");
  EXPECT_EQ(*cache.get("k", 6), "six");
  cache.put("k", 5, "five again");  // an older answer never replaces a newer one
  EXPECT_EQ(*cache.get("k", 6), "six");
}

TEST(ResponseCacheUnit, BoundedAndStaleEntriesGoFirst) {
  ResponseCache cache(3);
  cache.put("a", 1, "a");
  cache.put("b", 1, "b");
  cache.put("c", 2, "c");
  cache.put("d", 2, "d");  // full: a and b (older head) are dropped
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.get("c", 2), nullptr);
  EXPECT_NE(cache.get("d", 2), nullptr);
  cache.put("e", 2, "e");
  cache.put("f", 2, "f");  // full of current entries: one goes
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_NE(cache.get("f", 2), nullptr);
}

TEST(ResponseCacheUnit, ZeroEntriesDisables) {
  ResponseCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.put("k", 1, "x");
  EXPECT_EQ(cache.get("k", 1), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

// A project with one environment and versions appended as events (no engine).
class ResponseCacheApi : public ::testing::Test {
 protected:
  uint64_t record_version(const std::string& run) {
    wharf::v1::Payload p;
    auto* v = p.mutable_version_recorded();
    v->set_project_id("shop");
    v->set_run_id(run);
    v->set_version("sha256:" + run);
    v->set_artifact_digest("sha256:" + run);
    v->set_subject("change <" + run + ">");
    return h.append("run-" + run, p);
  }
  uint64_t deploy(const std::string& id, const std::string& version) {
    wharf::v1::Payload requested;
    auto* r = requested.mutable_deploy_requested();
    r->set_deploy_id(id);
    r->set_project_id("shop");
    r->set_environment("staging");
    r->set_attempt(1);
    r->mutable_spec()->set_version(version);
    h.append("env-shop-staging", requested);
    wharf::v1::Payload succeeded;
    auto* s = succeeded.mutable_deploy_succeeded();
    s->set_deploy_id(id);
    s->set_project_id("shop");
    s->set_environment("staging");
    *s->mutable_spec() = r->spec();
    return h.append("env-shop-staging", succeeded);
  }
  uint64_t create_shop() {
    wharf::v1::Payload p;
    auto* c = p.mutable_project_created();
    c->set_project_id("shop");
    c->set_name("Shop");
    c->set_owner("alice");
    auto* env = c->add_environments();
    env->set_name("staging");
    env->set_target(wharf::v1::TARGET_TYPE_LOCAL);
    return h.append("project-shop", p);
  }
  static std::string with_min(const std::string& target, uint64_t position) {
    return target + (target.find('?') == std::string::npos ? "?" : "&") +
           "min_position=" + std::to_string(position);
  }
  size_t cached() { return h.server().app().response_cache().size(); }

  ApiHarness h;
};

TEST_F(ResponseCacheApi, SameBytesUntilTheLogMovesThenTheNewAnswer) {
  const std::string alice = h.token_for("alice");
  create_shop();
  record_version("r1");
  const uint64_t pos = deploy("d1", "sha256:r1");
  Client c(h.port());
  const auto first = c.request(beast::http::verb::get, with_min("/api/v1/projects/shop/versions", pos), alice);
  ASSERT_EQ(first.status, 200u) << first.body;
  const auto again = c.request(beast::http::verb::get, "/api/v1/projects/shop/versions", alice);
  ASSERT_EQ(again.status, 200u);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.headers.at("Content-Type"), "application/json");
  EXPECT_GE(cached(), 1u);
  EXPECT_EQ(first.json().at("versions").as_array().size(), 1u);
  EXPECT_EQ(first.json().at("position").as_string(), std::to_string(pos));

  const auto envs = c.request(beast::http::verb::get, "/api/v1/projects/shop/environments", alice);
  ASSERT_EQ(envs.status, 200u);
  EXPECT_EQ(c.request(beast::http::verb::get, "/api/v1/projects/shop/environments", alice).body,
            envs.body);

  // The log moves: a new version and a new deploy show at once.
  record_version("r2");
  const uint64_t pos2 = deploy("d2", "sha256:r2");
  const auto after = c.request(beast::http::verb::get,
                               with_min("/api/v1/projects/shop/versions", pos2), alice);
  ASSERT_EQ(after.status, 200u);
  EXPECT_EQ(after.json().at("versions").as_array().size(), 2u) << after.body;
  EXPECT_EQ(after.json().at("position").as_string(), std::to_string(pos2));
  const auto envs2 = c.request(beast::http::verb::get,
                               with_min("/api/v1/projects/shop/environments", pos2), alice);
  EXPECT_EQ(envs2.json().at("environments").at(0).at("current").at("deploy_id").as_string(), "d2");

  // Parameters are part of the key: ?limit=1 and ?at= are their own answers.
  auto one = c.request(beast::http::verb::get, "/api/v1/projects/shop/versions?limit=1", alice);
  EXPECT_EQ(one.json().at("versions").as_array().size(), 1u);
  auto old = c.request(beast::http::verb::get,
                       "/api/v1/projects/shop/versions?at=" + std::to_string(pos), alice);
  EXPECT_EQ(old.body, first.body) << "as of the first position: the first answer";
  auto bad = c.request(beast::http::verb::get, "/api/v1/projects/shop/versions?limit=0", alice);
  EXPECT_EQ(bad.status, 400u) << "parameters are validated before the cache";
}

TEST_F(ResponseCacheApi, RevokedRoleIsRefusedAndAuditedThoughTheAnswerIsCached) {
  const std::string bob = h.token_for("bob");
  create_shop();
  record_version("r1");
  const uint64_t granted = h.grant("shop", "bob", wharf::v1::ROLE_VIEWER);
  Client c(h.port());
  const std::string target = "/api/v1/projects/shop/versions";
  ASSERT_EQ(c.request(beast::http::verb::get, with_min(target, granted), bob).status, 200u);
  ASSERT_EQ(c.request(beast::http::verb::get, target, bob).status, 200u);

  wharf::v1::Payload p;
  auto* r = p.mutable_permission_revoked();
  r->set_project_id("shop");
  r->set_user("bob");
  r->set_role(wharf::v1::ROLE_VIEWER);
  r->set_revoked_by("alice");
  h.append("access-shop", p);
  // Warm the cache at the new head with a reader who still may read.
  ASSERT_EQ(c.request(beast::http::verb::get, target, h.admin_token()).status, 200u);
  const auto refused = c.request(beast::http::verb::get, target, bob);
  EXPECT_EQ(refused.status, 403u) << refused.body;
  EXPECT_EQ(refused.error_code(), "forbidden");
  auto audit = c.request(beast::http::verb::get, "/api/v1/events?type=AccessDenied", h.admin_token());
  ASSERT_EQ(audit.status, 200u);
  auto events = audit.json().at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("data").at("user").as_string(), "bob");
  EXPECT_EQ(events[0].at("data").at("action").as_string(), "GET " + target);
}

TEST(ResponseCacheOff, ZeroEntriesServesTheSameAnswers) {
  ServerConfig config = ApiHarness::default_config();
  config.response_cache_entries = 0;
  ApiHarness h(config);
  wharf::v1::Payload p;
  auto* c = p.mutable_project_created();
  c->set_project_id("shop");
  c->set_owner("alice");
  const uint64_t pos = h.append("project-shop", p);
  auto r = h.get("/api/v1/projects/shop/environments?min_position=" + std::to_string(pos),
                 h.admin_token());
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(h.get("/api/v1/projects/shop/environments", h.admin_token()).body, r.body);
  EXPECT_EQ(h.server().app().response_cache().size(), 0u);
}

}  // namespace
}  // namespace wharf::api::testing
