// The response cache (api/response_cache.h): an answer is served again while
// no event of its project was appended (as of the new head, the same bytes
// the query renders there), never after one was; ?at= answers only at their
// own head; auth runs on every request (a revoked role is refused even when
// the answer is cached), and the cache is bounded.
#include "api/response_cache.h"

#include "tests/api/api_test_support.h"

namespace wharf::api::testing {
namespace {

// A rendered body with the position mark, as cached_view_reply hands it over.
std::string marked(const std::string& payload) {
  return "{\"position\":\"" + std::to_string(ResponseCache::kPositionMark) + "\",\"x\":\"" +
         payload + "\"}";
}
std::string body(uint64_t position, const std::string& payload) {
  return "{\"position\":\"" + std::to_string(position) + "\",\"x\":\"" + payload + "\"}";
}

TEST(ResponseCacheUnit, ServedAsOfTheHeadWhileItsScopeDidNotChange) {
  ResponseCache cache(8);
  EXPECT_EQ(cache.get("k", 5, 0), std::nullopt);
  EXPECT_EQ(cache.put("k", 5, false, marked("five")), body(5, "five"));
  EXPECT_EQ(cache.get("k", 5, 5), body(5, "five"));
  // The head moved to 9, the scope last changed at 3 (or at 5 itself): the
  // answer as of 9 is the same, with position 9.
  EXPECT_EQ(cache.get("k", 9, 3), body(9, "five"));
  EXPECT_EQ(cache.get("k", 9, 5), body(9, "five"));
  EXPECT_EQ(cache.get("k", 9, 6), std::nullopt) << "its scope changed after 5: stale";
  EXPECT_EQ(cache.get("k", 4, 0), std::nullopt) << "rendered after that head";
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 3u);
  cache.put("k", 8, false, marked("eight"));
  EXPECT_EQ(cache.get("k", 9, 6), body(9, "eight"));
  cache.put("k", 7, false, marked("seven"));  // an older answer never replaces a newer one
  EXPECT_EQ(cache.get("k", 9, 6), body(9, "eight"));
}

TEST(ResponseCacheUnit, ExactEntriesOnlyAtTheirOwnHead) {
  ResponseCache cache(8);
  cache.put("at", 5, true, marked("five"));
  EXPECT_EQ(cache.get("at", 5, 0), body(5, "five"));
  EXPECT_EQ(cache.get("at", 6, 0), std::nullopt) << "time travel: the head moved";
}

TEST(ResponseCacheUnit, MarkNotExactlyOnceIsNotCached) {
  ResponseCache cache(8);
  const std::string mark = std::to_string(ResponseCache::kPositionMark);
  EXPECT_EQ(cache.put("twice", 5, false, marked(mark)), std::nullopt);
  EXPECT_EQ(cache.put("none", 5, false, "{}"), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ResponseCacheUnit, Bounded) {
  ResponseCache cache(3);
  for (const char* k : {"a", "b", "c", "d", "e"}) cache.put(k, 1, false, marked(k));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.get("e", 1, 0), body(1, "e"));
}

TEST(ResponseCacheUnit, ZeroEntriesDisables) {
  ResponseCache cache(0);
  EXPECT_FALSE(cache.enabled());
  EXPECT_EQ(cache.put("k", 1, false, marked("x")), body(1, "x"));
  EXPECT_EQ(cache.get("k", 1, 0), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

// A project with one environment and versions appended as events (no engine).
class ResponseCacheApi : public ::testing::Test {
 protected:
  uint64_t record_version(const std::string& run, const std::string& project = "shop") {
    wharf::v1::Payload p;
    auto* v = p.mutable_version_recorded();
    v->set_project_id(project);
    v->set_run_id(run);
    v->set_version("sha256:" + run);
    v->set_artifact_digest("sha256:" + run);
    v->set_subject("change <" + run + ">");
    return h.append("run-" + run, p);
  }
  uint64_t deploy(const std::string& id, const std::string& version,
                  const std::string& project = "shop") {
    wharf::v1::Payload requested;
    auto* r = requested.mutable_deploy_requested();
    r->set_deploy_id(id);
    r->set_project_id(project);
    r->set_environment("staging");
    r->set_attempt(1);
    r->mutable_spec()->set_version(version);
    h.append("env-" + project + "-staging", requested);
    wharf::v1::Payload succeeded;
    auto* s = succeeded.mutable_deploy_succeeded();
    s->set_deploy_id(id);
    s->set_project_id(project);
    s->set_environment("staging");
    *s->mutable_spec() = r->spec();
    return h.append("env-" + project + "-staging", succeeded);
  }
  // Deploy progress: carries only the deploy id (placed by the index).
  uint64_t progress(const std::string& id, const std::string& project, uint32_t percent) {
    wharf::v1::Payload p;
    p.mutable_deploy_progressed()->set_deploy_id(id);
    p.mutable_deploy_progressed()->set_percent(percent);
    return h.append("env-" + project + "-staging", p);
  }
  uint64_t create_shop(const std::string& project = "shop") {
    wharf::v1::Payload p;
    auto* c = p.mutable_project_created();
    c->set_project_id(project);
    c->set_name("Shop");
    c->set_owner("alice");
    auto* env = c->add_environments();
    env->set_name("staging");
    env->set_target(wharf::v1::TARGET_TYPE_LOCAL);
    return h.append("project-" + project, p);
  }
  static std::string with_min(const std::string& target, uint64_t position) {
    return target + (target.find('?') == std::string::npos ? "?" : "&") +
           "min_position=" + std::to_string(position);
  }
  size_t cached() { return h.server().app().response_cache().size(); }
  uint64_t hits() { return h.server().app().response_cache().hits(); }
  // The body with its "position" replaced (what an answer as of another head looks like).
  static std::string at_position(const HttpResult& r, uint64_t position) {
    auto j = r.json();
    const std::string old = "\"position\":\"" + std::string(j.at("position").as_string()) + "\"";
    std::string b = r.body;
    b.replace(b.find(old), old.size(), "\"position\":\"" + std::to_string(position) + "\"");
    return b;
  }

  ApiHarness h;
};

TEST_F(ResponseCacheApi, SameBytesUntilTheLogMovesThenTheNewAnswer) {
  const std::string alice = h.token_for("alice");
  create_shop();
  record_version("r1");
  const uint64_t pos = deploy("d1", "sha256:r1");
  Client c(h.port());
  const auto first =
      c.request(beast::http::verb::get, with_min("/api/v1/projects/shop/versions", pos), alice);
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
  const auto after =
      c.request(beast::http::verb::get, with_min("/api/v1/projects/shop/versions", pos2), alice);
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
  auto audit =
      c.request(beast::http::verb::get, "/api/v1/events?type=AccessDenied", h.admin_token());
  ASSERT_EQ(audit.status, 200u);
  auto events = audit.json().at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("data").at("user").as_string(), "bob");
  EXPECT_EQ(events[0].at("data").at("action").as_string(), "GET " + target);
}

TEST_F(ResponseCacheApi, ReusedWhenAnotherProjectMovesNeverStaleForTheOneThatDid) {
  const std::string alice = h.token_for("alice");
  create_shop("shop");
  create_shop("mall");
  record_version("r1", "shop");
  deploy("m1", "sha256:x", "mall");
  const uint64_t pos = deploy("d1", "sha256:r1", "shop");
  Client c(h.port());
  const std::string versions = "/api/v1/projects/shop/versions";
  const std::string envs = "/api/v1/projects/shop/environments";
  const auto first = c.request(beast::http::verb::get, with_min(versions, pos), alice);
  ASSERT_EQ(first.status, 200u) << first.body;
  const auto first_envs = c.request(beast::http::verb::get, with_min(envs, pos), alice);
  ASSERT_EQ(first_envs.status, 200u) << first_envs.body;

  // Another project's streams move: shop's answers are served from the cache,
  // as of the new head (so min_position = that head is met at once).
  record_version("m2", "mall");
  const uint64_t other = progress("m1", "mall", 50);
  uint64_t before = hits();
  const auto reused = c.request(beast::http::verb::get, with_min(versions, other), alice);
  ASSERT_EQ(reused.status, 200u) << reused.body;
  EXPECT_EQ(hits(), before + 1) << "served from the cache";
  EXPECT_EQ(reused.body, at_position(first, other));
  EXPECT_EQ(reused.json().at("position").as_string(), std::to_string(other));
  const auto reused_envs = c.request(beast::http::verb::get, envs, alice);
  EXPECT_EQ(reused_envs.body, at_position(first_envs, other));
  EXPECT_EQ(hits(), before + 2);
  // The same answer the query renders without the cache at that position.
  EXPECT_EQ(
      c.request(beast::http::verb::get, versions + "?at=" + std::to_string(other), alice).body,
      reused.body);

  // Shop's own stream moves: the next read (even without min_position, the
  // index is folded up to the head first) is never the cached answer.
  const uint64_t mine = record_version("r2", "shop");
  before = hits();
  const auto fresh = c.request(beast::http::verb::get, with_min(versions, mine), alice);
  ASSERT_EQ(fresh.status, 200u);
  EXPECT_EQ(hits(), before) << "stale for the project that changed";
  EXPECT_EQ(fresh.json().at("versions").as_array().size(), 2u) << fresh.body;
  EXPECT_EQ(fresh.json().at("position").as_string(), std::to_string(mine));
  // An event that names only a deploy id is placed in its project too.
  const uint64_t progressed = progress("d1", "shop", 40);
  before = hits();
  const auto after_progress = c.request(beast::http::verb::get, with_min(envs, progressed), alice);
  EXPECT_EQ(hits(), before) << "deploy progress of shop is shop's change";
  EXPECT_EQ(after_progress.json().at("position").as_string(), std::to_string(progressed));

  // An event placed in no project (a token) may concern anyone: every entry goes stale.
  c.request(beast::http::verb::get, versions, alice);
  h.token_for("carol");
  before = hits();
  const auto after_token = c.request(beast::http::verb::get, versions, alice);
  EXPECT_EQ(after_token.status, 200u);
  EXPECT_EQ(hits(), before);
}

TEST_F(ResponseCacheApi, TimeTravelAnswersAreNotMovedToTheHead) {
  const std::string alice = h.token_for("alice");
  create_shop("shop");
  create_shop("mall");
  const uint64_t one = record_version("r1", "shop");
  Client c(h.port());
  const std::string at_one = "/api/v1/projects/shop/versions?at=" + std::to_string(one);
  const auto old = c.request(beast::http::verb::get, with_min(at_one, one), alice);
  ASSERT_EQ(old.status, 200u) << old.body;
  EXPECT_EQ(old.json().at("position").as_string(), std::to_string(one));
  record_version("r2", "shop");
  const uint64_t head = record_version("m1", "mall");
  const auto now =
      c.request(beast::http::verb::get, with_min("/api/v1/projects/shop/versions", head), alice);
  EXPECT_EQ(now.json().at("versions").as_array().size(), 2u);
  // Another project moved the head: ?at= still answers as of its own position.
  const auto again = c.request(beast::http::verb::get, at_one, alice);
  EXPECT_EQ(again.body, old.body);
  EXPECT_EQ(again.json().at("versions").as_array().size(), 1u);
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
