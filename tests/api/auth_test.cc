// Bearer tokens, roles, AccessDenied auditing, webhook signatures.
#include "api/webhook_signature.h"
#include "tests/api/sse_client.h"

namespace wharf::api::testing {
namespace {

using beast::http::verb;

TEST(AuthTest, NoTokenIs401WithChallenge) {
  ApiHarness h;
  auto r = h.get("/api/v1/events");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.error_code(), "unauthenticated");
  EXPECT_EQ(r.headers["WWW-Authenticate"], "Bearer realm=\"wharf\"");
}

TEST(AuthTest, UnknownTokenIs401) {
  ApiHarness h;
  auto r = h.get("/api/v1/events", "wharf_not-a-real-token");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.error_code(), "invalid_token");
}

TEST(AuthTest, ExpiredTokenIs401WithClearMessage) {
  ApiHarness h;
  const std::string token = h.token_for("bob", false, now_us() - 1'000'000);
  auto r = h.get("/api/v1/events", token);
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.error_code(), "token_expired");
  EXPECT_NE(r.body.find("expired"), std::string::npos);
  EXPECT_TRUE(r.json().at("error").at("details").as_object().contains("expired_at_us"));
}

TEST(AuthTest, TokensAreStoredOnlyHashed) {
  ApiHarness h;
  const std::string token = h.token_for("carol");
  auto events = h.store().read_stream("tokens", 1, 100, events::Direction::kForward);
  ASSERT_TRUE(events);
  bool found = false;
  for (const auto& e : *events) {
    EXPECT_EQ(e.SerializeAsString().find(token), std::string::npos);
    if (e.payload().token_issued().user() == "carol") {
      found = true;
      EXPECT_EQ(e.payload().token_issued().token_sha256(), sha256_hex(token));
    }
  }
  EXPECT_TRUE(found);
}

TEST(AuthTest, FirstAdminTokenOnlyOnAStoreWithoutTokens) {
  ApiHarness h;  // issued one already
  auto again = issue_first_admin_token(h.store(), now_us());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
}

TEST(AuthTest, MissingProjectRoleIs403NamingTheRoleAndIsAudited) {
  ApiHarness h;
  h.create_project("shop", "alice");
  const std::string bob = h.token_for("bob");
  auto r = h.get("/api/v1/events?project=shop", bob);
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.error_code(), "forbidden");
  auto details = r.json().at("error").at("details");
  EXPECT_EQ(details.at("missing_role").as_string(), "viewer");
  EXPECT_EQ(details.at("project").as_string(), "shop");

  auto audit = h.get("/api/v1/events?type=AccessDenied", h.admin_token());
  ASSERT_EQ(audit.status, 200u);
  auto events = audit.json().at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  auto data = events[0].at("data");
  EXPECT_EQ(data.at("user").as_string(), "bob");
  EXPECT_EQ(data.at("project_id").as_string(), "shop");
  EXPECT_EQ(data.at("missing_role").as_string(), "ROLE_VIEWER");
  EXPECT_EQ(data.at("action").as_string(), "GET /api/v1/events");
}

TEST(AuthTest, AdminRouteIs403ForOthers) {
  ApiHarness h;
  const std::string bob = h.token_for("bob");
  auto r = h.post("/api/v1/tokens", R"({"user":"eve"})", bob);
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.json().at("error").at("details").at("missing_role").as_string(), "admin");
}

TEST(AuthTest, AdminCreatesATokenThatWorks) {
  ApiHarness h;
  auto r = h.post("/api/v1/tokens", R"({"user":"dave","expires_in":"1d"})", h.admin_token());
  ASSERT_EQ(r.status, 201u) << r.body;
  const std::string token(r.json().at("token").as_string());
  EXPECT_GT(r.json().at("expires_at_us").as_int64(), now_us());
  EXPECT_EQ(h.get("/api/v1/events", token).status, 200u);
}

// The token cache must not outlive a revocation: the request right after the
// revoke answered is refused, on the same keep-alive connection too, while
// other tokens of the same user stay valid.
TEST(AuthTest, RevokedTokenIsRefusedOnTheVeryNextRequest) {
  ApiHarness h;
  auto created = h.post("/api/v1/tokens", R"({"user":"dave"})", h.admin_token());
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string token(created.json().at("token").as_string());
  const std::string token_id(created.json().at("token_id").as_string());
  const std::string other = h.token_for("dave");

  Client dave(h.port());
  for (int i = 0; i < 3; ++i) {  // warm the cache
    ASSERT_EQ(dave.request(beast::http::verb::get, "/api/v1/events", token).status, 200u);
  }
  const auto warm = h.server().app().access().token_cache_stats();
  EXPECT_GE(warm.hits, 2u);

  auto revoked = h.post("/api/v1/tokens/" + token_id + "/revoke", R"({"reason":"leaked"})",
                        h.admin_token());
  ASSERT_EQ(revoked.status, 200u) << revoked.body;
  EXPECT_FALSE(revoked.json().at("already_revoked").as_bool());

  auto next = dave.request(beast::http::verb::get, "/api/v1/events", token);
  EXPECT_EQ(next.status, 401u);
  EXPECT_EQ(next.error_code(), "token_revoked");
  EXPECT_EQ(next.json().at("error").at("details").at("token_id").as_string(), token_id);
  EXPECT_EQ(h.get("/api/v1/events", token).status, 401u);
  EXPECT_EQ(h.get("/api/v1/events", other).status, 200u);

  // Revoking again appends nothing; an unknown id is 404; non-admins may not.
  auto again = h.post("/api/v1/tokens/" + token_id + "/revoke", "", h.admin_token());
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_TRUE(again.json().at("already_revoked").as_bool());
  EXPECT_EQ(h.post("/api/v1/tokens/nope/revoke", "", h.admin_token()).status, 404u);
  EXPECT_EQ(h.post("/api/v1/tokens/" + token_id + "/revoke", "", other).status, 403u);
  auto stream = h.store().read_stream("tokens", 1, 100, events::Direction::kForward);
  ASSERT_TRUE(stream);
  size_t revocations = 0;
  for (const auto& e : *stream) revocations += e.payload().has_token_revoked();
  EXPECT_EQ(revocations, 1u);
}

TEST(AuthTest, TokenCacheFiguresAreOnMetrics) {
  ApiHarness h;
  const std::string bob = h.token_for("bob");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(h.get("/api/v1/events", bob).status, 200u);
  auto metrics = h.get("/metrics");
  ASSERT_EQ(metrics.status, 200u);
  const auto stats = h.server().app().access().token_cache_stats();
  EXPECT_GE(stats.hits, 2u);
  EXPECT_GE(stats.misses, 1u);
  EXPECT_NE(metrics.body.find("wharf_token_cache_lookups{result=\"hit\"} " +
                              std::to_string(stats.hits)),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("wharf_token_cache_lookups{result=\"miss\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("wharf_token_cache_entries"), std::string::npos);
}

TEST(AuthTest, UsersSeeOnlyEventsOfTheirProjects) {
  ApiHarness h;
  h.create_project("mine", "alice");
  h.create_project("theirs", "zed");
  const std::string alice = h.token_for("alice");
  auto r = h.get("/api/v1/events?limit=1000", alice);
  ASSERT_EQ(r.status, 200u);
  std::set<std::string> streams;
  const auto body = r.json();
  for (const auto& e : body.at("events").as_array()) streams.insert(std::string(e.at("stream").as_string()));
  EXPECT_TRUE(streams.count("project-mine"));
  EXPECT_FALSE(streams.count("project-theirs"));
  EXPECT_FALSE(streams.count("tokens"));
  // Admins see everything.
  auto all = h.get("/api/v1/events?limit=1000", h.admin_token());
  std::set<std::string> all_streams;
  const auto all_body = all.json();
  for (const auto& e : all_body.at("events").as_array()) all_streams.insert(std::string(e.at("stream").as_string()));
  EXPECT_TRUE(all_streams.count("project-theirs"));
  EXPECT_TRUE(all_streams.count("tokens"));
}

TEST(AuthTest, TokenDigestsAreRedactedInEventJson) {
  ApiHarness h;
  auto r = h.get("/api/v1/streams/tokens", h.admin_token());
  ASSERT_EQ(r.status, 200u);
  const auto body = r.json();
  for (const auto& e : body.at("events").as_array()) {
    EXPECT_EQ(e.at("data").at("token_sha256").as_string(), "redacted");
  }
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.create_project("hooked", "alice", "s3cret");
    h.create_project("plain", "alice");
    h.services().webhooks["gerrit"] = [this](const WebhookDelivery& d) {
      deliveries.push_back(d);
      return WebhookResult{202, json::object{{"accepted", true}}};
    };
  }
  HttpResult post(const std::string& target, const std::string& body,
                  std::map<std::string, std::string> headers = {}) {
    Client c(h.port());
    return c.request(verb::post, target, "", body, headers);
  }
  ApiHarness h;
  std::vector<WebhookDelivery> deliveries;
};

TEST_F(WebhookTest, ValidHmacSignatureIsDelivered) {
  const std::string body = R"({"type":"patchset-created"})";
  const std::string sig = "sha256=" + hmac_sha256_hex("s3cret", body);  // keyed by the secret
  auto r = post("/api/v1/webhooks/gerrit/hooked", body, {{"X-Wharf-Signature-256", sig}});
  EXPECT_EQ(r.status, 202u) << r.body;
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].project_id, "hooked");
  EXPECT_EQ(deliveries[0].body, body);
  EXPECT_EQ(deliveries[0].headers["x-wharf-signature-256"], sig);
}

TEST_F(WebhookTest, SecretInQueryIsAcceptedForSendersThatCannotSign) {
  auto r = post("/api/v1/webhooks/gerrit/hooked?secret=s3cret", "{}");
  EXPECT_EQ(r.status, 202u);
  EXPECT_EQ(deliveries.size(), 1u);
}

TEST_F(WebhookTest, WrongSignatureIs401) {
  const std::string sig = "sha256=" + hmac_sha256_hex("wrong", "{}");
  auto r = post("/api/v1/webhooks/gerrit/hooked", "{}", {{"X-Wharf-Signature-256", sig}});
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.error_code(), "bad_signature");
  EXPECT_TRUE(deliveries.empty());
}

TEST_F(WebhookTest, MissingSignatureIs401) {
  auto r = post("/api/v1/webhooks/gerrit/hooked", "{}");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.error_code(), "missing_signature");
}

TEST_F(WebhookTest, ProjectWithoutSecretIs403) {
  auto r = post("/api/v1/webhooks/gerrit/plain?secret=x", "{}");
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.error_code(), "webhook_not_configured");
}

// The log says only that a secret is set and its version: no secret, no
// hash of it (which was the HMAC key before, and is in every export).
TEST_F(WebhookTest, TheLogHoldsNeitherTheSecretNorItsHash) {
  auto events = h.store().read_all(1, 1000);
  ASSERT_TRUE(events);
  bool recorded = false;
  for (const auto& e : *events) {
    const std::string bytes = e.SerializeAsString();
    EXPECT_EQ(bytes.find("s3cret"), std::string::npos);
    EXPECT_EQ(bytes.find(sha256_hex("s3cret")), std::string::npos);
    if (e.payload().has_project_created() &&
        e.payload().project_created().project_id() == "hooked") {
      const auto& g = e.payload().project_created().repository().gerrit();
      EXPECT_TRUE(g.webhook_secret_set());
      EXPECT_EQ(g.webhook_secret_version(), 1u);
      recorded = true;
    }
  }
  EXPECT_TRUE(recorded);
}

// A binding from before the sealed store kept SHA-256(secret), the old HMAC
// key, in the log: anyone with an export could sign. It is refused until the
// secret is set again.
TEST_F(WebhookTest, ALegacyHashedSecretNoLongerSigns) {
  wharf::v1::Payload p;
  auto* c = p.mutable_project_created();
  c->set_project_id("old");
  c->set_name("old");
  c->set_owner("alice");
  c->mutable_repository()->mutable_gerrit()->set_host("gerrit.example");
  c->mutable_repository()->mutable_gerrit()->set_webhook_secret_sha256(sha256_hex("s3cret"));
  h.append("project-old", p);
  const std::string forged = "sha256=" + hmac_sha256_hex(sha256_hex("s3cret"), "{}");
  auto r = post("/api/v1/webhooks/gerrit/old", "{}", {{"X-Wharf-Signature-256", forged}});
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.error_code(), "webhook_secret_legacy");
  EXPECT_NE(r.body.find("/repository"), std::string::npos);
  EXPECT_EQ(post("/api/v1/webhooks/gerrit/old?secret=s3cret", "{}").status, 403u);
  EXPECT_TRUE(deliveries.empty());
}

TEST_F(WebhookTest, UnknownKindIs404) {
  auto r = post("/api/v1/webhooks/bitbucket/hooked?secret=s3cret", "{}");
  EXPECT_EQ(r.status, 404u);
}

// A token in a URL ends up in proxy logs and browser history: ?access_token=
// is refused (401, saying where it is accepted) on a plain route, and taken
// on the event stream, which a browser's EventSource opens without headers.
TEST(AuthTest, QueryTokenOnlyOnTheEventStream) {
  ApiHarness h;
  const std::string admin = h.admin_token();
  auto plain = h.get("/api/v1/events?access_token=" + admin);
  EXPECT_EQ(plain.status, 401u);
  EXPECT_EQ(plain.error_code(), "access_token_not_accepted");
  EXPECT_NE(plain.body.find("/api/v1/events/stream"), std::string::npos) << plain.body;
  EXPECT_EQ(h.get("/api/v1/me?access_token=" + admin).status, 401u);

  SseClient stream(h.port(), "/api/v1/events/stream?from=1&access_token=" + admin, "");
  EXPECT_TRUE(stream.ok()) << stream.header();
  auto first = stream.next();
  ASSERT_TRUE(first);  // the first admin token's TokenIssued
  EXPECT_EQ(first->event, "TokenIssued");
}

// Asking for a role on a project that does not exist is 404, not a pending request.
TEST(AuthTest, PermissionRequestForAnUnknownProjectIs404) {
  ApiHarness h;
  h.create_project("shop", "alice");
  const std::string bob = h.token_for("bob");
  auto r = h.post("/api/v1/permissions/requests", R"({"project":"nope","role":"viewer"})", bob);
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_EQ(r.error_code(), "not_found");
  EXPECT_EQ(r.json().at("error").at("details").at("project").as_string(), "nope");
  EXPECT_EQ(
      h.post("/api/v1/permissions/requests", R"({"project":"shop","role":"viewer"})", bob).status,
      202u);
}

}  // namespace
}  // namespace wharf::api::testing
