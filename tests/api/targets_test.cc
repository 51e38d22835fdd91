// /api/v1/targets: registration seals the credential and logs only its
// version; every role sees names, kinds, URLs and health but never a
// credential; rotation, removal (409 while in use), and what is refused.
#include <fstream>
#include <iterator>

#include "adapters/targets/catalog.h"
#include "adapters/targets/registry.h"
#include "events/export.h"
#include "tests/api/sse_client.h"

namespace wharf::api::testing {
namespace {

using beast::http::verb;

const std::string kMarker = "canary-tok-5d1c0e";

std::string cluster_body(const std::string& token) {
  return R"({"name":"prod-eu","kind":"kubernetes","url":"https://k8s.example:6443",
             "namespace":"shop","reason":"first cluster",
             "credential":{"kind":"bearer_token","token":")" +
         token + R"("}})";
}

HttpResult call(ApiHarness& h, verb method, const std::string& target, const std::string& token,
                const std::string& body = "") {
  Client c(h.port());
  return c.request(method, target, token, body);
}

// Every byte of every event in the log.
std::string log_bytes(ApiHarness& h) {
  auto all = h.store().read_all(1, 100000);
  std::string out;
  for (const auto& e : *all) out += e.SerializeAsString();
  return out;
}

class TargetsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.create_project("shop", "olive");
    h.grant("shop", "vera", wharf::v1::ROLE_VIEWER);
    viewer = h.token_for("vera");
    owner = h.token_for("olive");
    stranger = h.token_for("sam");
  }
  ApiHarness h;
  std::string viewer, owner, stranger;
};

TEST_F(TargetsApiTest, RegisterSealsTheCredentialAndNobodyReadsItBack) {
  auto r = h.post("/api/v1/targets", cluster_body(kMarker), h.admin_token());
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.body.find(kMarker), std::string::npos);
  auto v = r.json();
  EXPECT_EQ(v.at("name").as_string(), "prod-eu");
  EXPECT_EQ(v.at("credential").at("kind").as_string(), "bearer_token");
  EXPECT_EQ(v.at("credential").at("version").as_int64(), 1);

  // The log says that a credential exists and its version, nothing more.
  EXPECT_EQ(log_bytes(h).find(kMarker), std::string::npos);
  auto events = h.store().read_stream("target-prod-eu", 1, 10, events::Direction::kForward);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->at(0).type(), "TargetRegistered");
  EXPECT_EQ(events->at(0).payload().target_registered().credential_version(), 1u);

  // Every role that may see targets sees the same, and never the token.
  for (const std::string* token :
       std::initializer_list<const std::string*>{&viewer, &owner, &h.admin_token()}) {
    for (const char* path : {"/api/v1/targets", "/api/v1/targets/prod-eu",
                             "/api/v1/targets/prod-eu/health", "/api/v1/events"}) {
      auto got = h.get(path, *token);
      EXPECT_EQ(got.status, 200u) << path << got.body;
      EXPECT_EQ(got.body.find(kMarker), std::string::npos) << path;
    }
  }
  auto list = h.get("/api/v1/targets", viewer).json();
  ASSERT_EQ(list.at("targets").as_array().size(), 1u);
  EXPECT_EQ(list.at("targets").at(0).at("url").as_string(), "https://k8s.example:6443");
  EXPECT_EQ(list.at("targets").at(0).at("kind").as_string(), "kubernetes");

  // The sealed store holds it, encrypted, and the registry opens it.
  targets::CatalogResolver resolver(*h.services().targets, &h.secrets());
  auto resolved = resolver.resolve("prod-eu");
  ASSERT_TRUE(resolved) << resolved.error();
  EXPECT_EQ(resolved->token, kMarker);
  EXPECT_EQ(resolved->spec.default_namespace(), "shop");
}

TEST_F(TargetsApiTest, WritesAreForAdminsAndReadsForAnyRole) {
  EXPECT_EQ(h.post("/api/v1/targets", cluster_body("x"), owner).status, 403u);
  EXPECT_EQ(h.get("/api/v1/targets", stranger).status, 403u);
  ASSERT_EQ(h.post("/api/v1/targets", cluster_body("x"), h.admin_token()).status, 201u);
  EXPECT_EQ(call(h, verb::delete_, "/api/v1/targets/prod-eu", owner).status, 403u);
  EXPECT_EQ(call(h, verb::post, "/api/v1/targets/prod-eu/credentials", viewer,
                 R"({"credential":{"kind":"bearer_token","token":"y"}})")
                .status,
            403u);
  EXPECT_EQ(h.get("/api/v1/targets/prod-eu", stranger).status, 403u);
  EXPECT_EQ(h.get("/api/v1/targets/prod-eu", viewer).status, 200u);
  EXPECT_EQ(h.get("/api/v1/targets/nope", viewer).status, 404u);
}

TEST_F(TargetsApiTest, RotationSealsANewVersionAndDropsTheOld) {
  ASSERT_EQ(h.post("/api/v1/targets", cluster_body("old-" + kMarker), h.admin_token()).status,
            201u);
  auto r = call(h, verb::post, "/api/v1/targets/prod-eu/credentials", h.admin_token(),
                R"({"credential":{"kind":"bearer_token","token":"new-)" + kMarker +
                    R"("},"reason":"leaked"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json().at("credential").at("version").as_int64(), 2);
  EXPECT_EQ(r.body.find(kMarker), std::string::npos);
  targets::CatalogResolver resolver(*h.services().targets, &h.secrets());
  auto resolved = resolver.resolve("prod-eu");
  ASSERT_TRUE(resolved) << resolved.error();
  EXPECT_EQ(resolved->token, "new-" + kMarker);
  EXPECT_EQ(h.secrets().versions(targets::target_entry("prod-eu")), std::vector<uint32_t>{2});
  auto rotated = h.store().read_stream("target-prod-eu", 2, 1, events::Direction::kForward);
  ASSERT_TRUE(rotated);
  EXPECT_EQ(rotated->at(0).payload().target_credentials_rotated().reason(), "leaked");
  EXPECT_EQ(log_bytes(h).find(kMarker), std::string::npos);
}

TEST_F(TargetsApiTest, UpdateChangesTheSpecNotTheCredential) {
  ASSERT_EQ(h.post("/api/v1/targets", cluster_body("x"), h.admin_token()).status, 201u);
  auto r = call(h, verb::put, "/api/v1/targets/prod-eu", h.admin_token(),
                R"({"kind":"kubernetes","url":"https://k8s-2.example:6443"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json().at("url").as_string(), "https://k8s-2.example:6443");
  EXPECT_EQ(r.json().at("credential").at("version").as_int64(), 1);
  auto with_credential = call(h, verb::put, "/api/v1/targets/prod-eu", h.admin_token(),
                              R"({"kind":"kubernetes","url":"https://a:1",
                                  "credential":{"kind":"bearer_token","token":"z"}})");
  EXPECT_EQ(with_credential.status, 400u);
  EXPECT_NE(with_credential.body.find("/credentials"), std::string::npos);
}

TEST_F(TargetsApiTest, RemovalIsRefusedWhileAnEnvironmentUsesIt) {
  ASSERT_EQ(h.post("/api/v1/targets", cluster_body("x"), h.admin_token()).status, 201u);
  wharf::v1::Payload defined;
  auto* d = defined.mutable_environment_defined();
  d->set_project_id("shop");
  d->mutable_environment()->set_name("prod");
  d->mutable_environment()->set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  d->mutable_environment()->set_target_ref("prod-eu");
  h.append("project-shop", defined);

  auto refused = call(h, verb::delete_, "/api/v1/targets/prod-eu", h.admin_token());
  EXPECT_EQ(refused.status, 409u);
  EXPECT_EQ(refused.error_code(), "target_in_use");
  EXPECT_EQ(refused.json().at("error").at("details").at("environments").at(0).as_string(),
            "shop/prod");
  auto health = h.get("/api/v1/targets/prod-eu/health", viewer).json();
  EXPECT_EQ(health.at("used_by").at(0).as_string(), "shop/prod");

  d->mutable_environment()->set_target_ref("");  // redefined without it
  h.append("project-shop", defined);
  auto removed = call(h, verb::delete_, "/api/v1/targets/prod-eu", h.admin_token());
  ASSERT_EQ(removed.status, 200u) << removed.body;
  EXPECT_EQ(h.get("/api/v1/targets/prod-eu", viewer).status, 404u);
  EXPECT_TRUE(h.secrets().versions(targets::target_entry("prod-eu")).empty());
}

// A Dubbo canary's config center is a second target the environment names
// (settings.dubbo_config_center, docs/canary.md#dubbo): used_by and removal
// count it beside target_ref.
TEST_F(TargetsApiTest, TheDubboConfigCenterSettingCountsAsAUse) {
  ASSERT_EQ(h.post("/api/v1/targets", cluster_body("x"), h.admin_token()).status, 201u);
  ASSERT_EQ(
      h.post("/api/v1/targets",
             R"({"name":"zk-eu","kind":"zookeeper","url":"zookeeper://zk1:2181"})", h.admin_token())
          .status,
      201u);
  auto defined = call(h, verb::put, "/api/v1/projects/shop/environments/prod", owner,
                      R"({"target":"kubernetes","target_ref":"prod-eu",
                          "settings":{"deployment":"shop","dubbo_config_center":"zk-eu",
                                      "dubbo_interface":"demo.Greeter"},
                          "canary":{"mode":"dubbo","steps":[{"weight":25},{"weight":100}]}})");
  ASSERT_EQ(defined.status, 202u) << defined.body;

  for (const char* name : {"zk-eu", "prod-eu"}) {
    SCOPED_TRACE(name);
    auto refused = call(h, verb::delete_, std::string("/api/v1/targets/") + name, h.admin_token());
    EXPECT_EQ(refused.status, 409u) << refused.body;
    EXPECT_EQ(refused.error_code(), "target_in_use");
    auto health = h.get(std::string("/api/v1/targets/") + name + "/health", viewer).json();
    EXPECT_EQ(health.at("used_by").at(0).as_string(), "shop/prod");
  }

  // Redefined with a plain canary: the config center is no longer named.
  auto plain = call(h, verb::put, "/api/v1/projects/shop/environments/prod", owner,
                    R"({"target":"kubernetes","target_ref":"prod-eu",
                        "settings":{"deployment":"shop"}})");
  ASSERT_EQ(plain.status, 202u) << plain.body;
  auto removed = call(h, verb::delete_, "/api/v1/targets/zk-eu", h.admin_token());
  EXPECT_EQ(removed.status, 200u) << removed.body;
  EXPECT_EQ(call(h, verb::delete_, "/api/v1/targets/prod-eu", h.admin_token()).status, 409u);
}

TEST_F(TargetsApiTest, BadRegistrationsAreRefusedAndSealNothing) {
  auto missing = h.post("/api/v1/targets",
                        R"({"name":"p","kind":"portainer","url":"https://portainer:9443",
                            "endpoint_id":"1","credential":{"kind":"user_password","username":"u"}})",
                        h.admin_token());
  EXPECT_EQ(missing.status, 400u);
  EXPECT_EQ(missing.error_code(), "invalid_credential");
  auto no_scheme = h.post("/api/v1/targets",
                          R"({"name":"k","kind":"kubernetes","url":"k8s:6443",
                              "credential":{"kind":"bearer_token","token":"t"}})",
                          h.admin_token());
  EXPECT_EQ(no_scheme.status, 400u);
  EXPECT_TRUE(h.secrets().versions(targets::target_entry("k")).empty());
  auto bad_name = h.post("/api/v1/targets",
                         R"({"name":"..","kind":"kubernetes","url":"https://a"})", h.admin_token());
  EXPECT_EQ(bad_name.status, 400u);
  ASSERT_EQ(h.post("/api/v1/targets", cluster_body("x"), h.admin_token()).status, 201u);
  auto twice = h.post("/api/v1/targets", cluster_body("y"), h.admin_token());
  EXPECT_EQ(twice.status, 409u);
  // The refused second registration took its sealed version back.
  EXPECT_EQ(h.secrets().versions(targets::target_entry("prod-eu")), std::vector<uint32_t>{1});
}

TEST_F(TargetsApiTest, CredentialNamedSettingsAreRefused) {
  for (const char* key :
       {"token", "password", "api_key", "secret", "registry_password", "ssh_key", "bearer_token"}) {
    SCOPED_TRACE(key);
    auto r = call(h, verb::put, "/api/v1/projects/shop/environments/prod", owner,
                  std::string(R"({"target":"kubernetes","settings":{"deployment":"shop",")") + key +
                      R"(":"x"}})");
    EXPECT_EQ(r.status, 400u) << r.body;
    EXPECT_EQ(r.error_code(), "secret_in_settings");
    auto details = r.json().at("error").at("details");
    EXPECT_EQ(details.at("field").as_string(), std::string("settings.") + key);
    EXPECT_EQ(details.at("targets_route").as_string(), "/api/v1/targets");
  }
  // By reference, with only non-secret settings: accepted, and recorded so.
  auto ok = call(h, verb::put, "/api/v1/projects/shop/environments/prod", owner,
                 R"({"target":"kubernetes","target_ref":"prod-eu",
                     "settings":{"deployment":"shop","token_file_hint":"none"}})");
  ASSERT_EQ(ok.status, 202u) << ok.body;
  auto events = h.store().read_stream("project-shop", 2, 1, events::Direction::kForward);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->at(0).payload().environment_defined().environment().target_ref(), "prod-eu");
}

// Reads show "redacted" in place of secrets; a round-trip edit that sends
// those values back must not store the mask in place of the secret.
TEST_F(TargetsApiTest, AMaskedValueSentBackIsRefusedAndStoresNothing) {
  const uint64_t before = h.store().head_position();
  auto env = call(h, verb::put, "/api/v1/projects/shop/environments/prod", owner,
                  R"({"target":"swarm","settings":{"service":"shop_web","api_key":"redacted"}})");
  EXPECT_EQ(env.status, 400u) << env.body;
  EXPECT_EQ(env.error_code(), "secret_in_settings");
  auto repo = call(h, verb::put, "/api/v1/projects/shop/repository", owner,
                   R"({"gerrit":{"host":"review.example","project":"shop",
                       "webhook_secret":"redacted"}})");
  EXPECT_EQ(repo.status, 400u) << repo.body;
  EXPECT_EQ(repo.error_code(), "masked_value");
  EXPECT_EQ(repo.json().at("error").at("details").at("field").as_string(), "gerrit.webhook_secret");
  EXPECT_TRUE(h.secrets().versions(targets::webhook_entry("shop")).empty());
  EXPECT_EQ(h.store().head_position(), before) << "nothing was recorded";
}

// Events written before targets may hold credentials in settings. Every read
// path masks them; both export downloads carry those events as hash-only
// placeholders, and the downloads still verify.
TEST_F(TargetsApiTest, OldEventsNeverShowTheirCredentials) {
  wharf::v1::Payload old;
  auto* d = old.mutable_environment_defined();
  d->set_project_id("shop");
  d->mutable_environment()->set_name("prod");
  d->mutable_environment()->set_target(wharf::v1::TARGET_TYPE_SWARM);
  (*d->mutable_environment()->mutable_settings())["api_key"] = "old-" + kMarker;
  (*d->mutable_environment()->mutable_settings())["password"] = "pw-" + kMarker;
  (*d->mutable_environment()->mutable_settings())["service"] = "shop_web";
  const uint64_t pos = h.append("project-shop", old);
  ASSERT_NE(log_bytes(h).find(kMarker), std::string::npos);  // the log holds it (the old way)

  const std::string at = "?min_position=" + std::to_string(pos);
  for (const std::string* token :
       std::initializer_list<const std::string*>{&viewer, &owner, &h.admin_token()}) {
    for (const std::string& path :
         {"/api/v1/projects/shop" + at, "/api/v1/projects/shop/environments" + at,
          "/api/v1/projects/shop/environments/prod" + at, std::string("/api/v1/events"),
          std::string("/api/v1/streams/project-shop"), std::string("/api/v1/audit?project=shop")}) {
      auto got = h.get(path, *token);
      EXPECT_EQ(got.body.find(kMarker), std::string::npos) << path << " " << got.body;
    }
  }
  auto project = h.get("/api/v1/projects/shop" + at, viewer);
  ASSERT_EQ(project.status, 200u) << project.body;
  EXPECT_NE(project.body.find(R"("api_key":"redacted")"), std::string::npos) << project.body;
  EXPECT_NE(project.body.find(R"("service":"shop_web")"), std::string::npos);

  SseClient stream(h.port(), "/api/v1/events/stream?project=shop", owner, 0);
  ASSERT_TRUE(stream.ok()) << stream.header();
  for (;;) {
    auto frame = stream.next();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->data.find(kMarker), std::string::npos);
    if (frame->id == pos) {
      EXPECT_NE(frame->data.find("redacted"), std::string::npos);
      break;
    }
  }

  for (const auto& [path, token] :
       {std::pair<std::string, std::string>{"/api/v1/audit/export", h.admin_token()},
        std::pair<std::string, std::string>{"/api/v1/projects/shop/audit/export", owner}}) {
    auto download = h.get(path, token);
    ASSERT_EQ(download.status, 200u) << path;
    EXPECT_EQ(download.body.find(kMarker), std::string::npos) << path;
    const auto file = h.dir() / "download.wexp";
    std::ofstream(file, std::ios::binary | std::ios::trunc) << download.body;
    auto report = events::verify_export(file.string());
    EXPECT_TRUE(report.ok) << path << ": " << report.message;
    auto read = events::read_export(file.string());
    ASSERT_TRUE(read);
    EXPECT_NE(read->header.filter().find("placeholders"), std::string::npos);
    bool placeholder = false;
    for (const auto& r : read->records) {
      placeholder = placeholder || (r.has_omitted() && r.omitted().position() == pos);
    }
    EXPECT_TRUE(placeholder) << path;
  }
}

// A corrupted sealed entry fails only its own target, with a message naming
// it; the other targets still resolve.
TEST_F(TargetsApiTest, ACorruptedCredentialFailsOnlyItsTarget) {
  ASSERT_EQ(h.post("/api/v1/targets", cluster_body("x"), h.admin_token()).status, 201u);
  auto other = h.post("/api/v1/targets",
                      R"({"name":"edge","kind":"portainer","url":"https://portainer:9443",
                          "endpoint_id":"2","credential":{"kind":"api_key","api_key":"k"}})",
                      h.admin_token());
  ASSERT_EQ(other.status, 201u) << other.body;
  const auto file = h.secrets().path_of(targets::target_entry("prod-eu"), 1);
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() - 3] ^= 0x01;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  targets::CatalogResolver resolver(*h.services().targets, &h.secrets());
  auto broken = resolver.resolve("prod-eu");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().find("target prod-eu"), std::string::npos) << broken.error();
  EXPECT_NE(broken.error().find("does not open"), std::string::npos) << broken.error();
  auto fine = resolver.resolve("edge");
  ASSERT_TRUE(fine) << fine.error();
  EXPECT_EQ(fine->api_key, "k");
  EXPECT_EQ(fine->spec.endpoint_id(), "2");
}

}  // namespace
}  // namespace wharf::api::testing
