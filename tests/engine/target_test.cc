// Target decider (stream "target-<name>"): registration, update, credential
// rotation by version, removal (refused while in use), health changes; and
// which settings keys name a credential.
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

wharf::v1::TargetSpec cluster(const std::string& name = "prod-eu") {
  wharf::v1::TargetSpec s;
  s.set_name(name);
  s.set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
  s.set_url("https://k8s.example:6443");
  s.set_default_namespace("shop");
  s.set_credential(wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN);
  return s;
}

TEST(TargetDecider, RegisterCarriesTheVersionAndNoSecret) {
  Log log;
  auto r = log.when(RegisterTarget{cluster(), 1, "new cluster"}, "ada");
  ASSERT_THAT(types(r), ElementsAre("TargetRegistered"));
  EXPECT_EQ(r->at(0).stream_id(), "target-prod-eu");
  const auto& e = r->at(0).payload().target_registered();
  EXPECT_EQ(e.credential_version(), 1u);
  EXPECT_EQ(e.target().url(), "https://k8s.example:6443");
  EXPECT_EQ(e.reason(), "new cluster");

  // The same registration again: nothing to do; another one: refused.
  auto again = log.when(RegisterTarget{cluster(), 1, "new cluster"}, "ada");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  auto other = cluster();
  other.set_url("https://elsewhere:6443");
  auto clash = log.when(RegisterTarget{other, 1, ""}, "ada");
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, Rejection::Code::kAlreadyExists);
}

TEST(TargetDecider, RegisterRefusesBadSpecsAndSkippedVersions) {
  Log log;
  auto bad_name = cluster("..");
  EXPECT_EQ(log.when(RegisterTarget{bad_name, 1, ""}, "ada").error().code,
            Rejection::Code::kInvalidArgument);
  auto no_url = cluster();
  no_url.set_url("k8s.example");
  EXPECT_THAT(log.when(RegisterTarget{no_url, 1, ""}, "ada").error().reason,
              HasSubstr("http:// or https://"));
  auto wrong_kind = cluster();
  wrong_kind.set_credential(wharf::v1::CREDENTIAL_KIND_API_KEY);
  EXPECT_THAT(log.when(RegisterTarget{wrong_kind, 1, ""}, "ada").error().reason,
              HasSubstr("cannot use a api_key credential"));
  auto skipped = log.when(RegisterTarget{cluster(), 2, ""}, "ada");
  ASSERT_FALSE(skipped);
  EXPECT_EQ(skipped.error().code, Rejection::Code::kInvalidTransition);
  wharf::v1::TargetSpec portainer;
  portainer.set_name("swarm");
  portainer.set_kind(wharf::v1::TARGET_KIND_PORTAINER);
  portainer.set_url("https://portainer:9443");
  portainer.set_credential(wharf::v1::CREDENTIAL_KIND_API_KEY);
  EXPECT_THAT(log.when(RegisterTarget{portainer, 1, ""}, "ada").error().reason,
              HasSubstr("endpoint_id"));
}

TEST(TargetDecider, AZookeeperConfigCenterTakesAConnectStringUrlAndADigestCredential) {
  Log log;
  wharf::v1::TargetSpec zk;
  zk.set_name("zk-eu");
  zk.set_kind(wharf::v1::TARGET_KIND_ZOOKEEPER);
  zk.set_url("zookeeper://zk1:2181,zk2.example:2181,[::1]:2181/dubbo-eu");
  zk.set_credential(wharf::v1::CREDENTIAL_KIND_USER_PASSWORD);
  auto r = log.when(RegisterTarget{zk, 1, ""}, "ada");
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(zookeeper_connect_string(zk.url()), "zk1:2181,zk2.example:2181,[::1]:2181/dubbo-eu");
  EXPECT_EQ(zookeeper_connect_string("zookeeper://127.0.0.1:2181"), "127.0.0.1:2181");
  for (const char* bad :
       {"https://zk1:2181", "zookeeper://zk1", "zookeeper://zk1:21x81", "zookeeper://zk1:2181,",
        "zookeeper://zk1:2181/", "zookeeper://zk1:2181//a", "zookeeper://zk 1:2181",
        "zookeeper://zk1:2181/a b"}) {
    auto b = zk;
    b.set_name("zk-bad");
    b.set_url(bad);
    EXPECT_THAT(log.when(RegisterTarget{b, 1, ""}, "ada").error().reason,
                HasSubstr("zookeeper://host:port"))
        << bad;
  }
  auto token = zk;
  token.set_name("zk-token");
  token.set_credential(wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN);
  EXPECT_THAT(log.when(RegisterTarget{token, 1, ""}, "ada").error().reason,
              HasSubstr("cannot use a bearer_token credential"));
  auto open = zk;
  open.set_name("zk-open");
  open.set_credential(wharf::v1::CREDENTIAL_KIND_NONE);
  EXPECT_TRUE(log.when(RegisterTarget{open, 0, ""}, "ada"));
}

TEST(TargetDecider, RotationNeedsTheNextVersion) {
  Log log;
  ASSERT_TRUE(log.when(RegisterTarget{cluster(), 1, ""}, "ada"));
  auto r = log.when(
      RotateTargetCredentials{"prod-eu", 2, wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN, "leaked"},
      "ada");
  ASSERT_THAT(types(r), ElementsAre("TargetCredentialsRotated"));
  EXPECT_EQ(r->at(0).payload().target_credentials_rotated().credential_version(), 2u);
  // A rotation decided on the old version (a concurrent one won): refused.
  auto stale = log.when(
      RotateTargetCredentials{"prod-eu", 2, wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN, ""}, "ada");
  ASSERT_FALSE(stale);
  EXPECT_THAT(stale.error().reason, HasSubstr("changed meanwhile"));
  StreamState s = fold("target-prod-eu", log.streams["target-prod-eu"]);
  EXPECT_EQ(s.target()->credential_version, 2u);
}

TEST(TargetDecider, UpdateKeepsTheCredentialKind) {
  Log log;
  ASSERT_TRUE(log.when(RegisterTarget{cluster(), 1, ""}, "ada"));
  auto moved = cluster();
  moved.set_url("https://k8s-2.example:6443");
  auto u = log.when(UpdateTarget{moved, "moved"}, "ada");
  ASSERT_THAT(types(u), ElementsAre("TargetUpdated"));
  auto other_kind = moved;
  other_kind.set_credential(wharf::v1::CREDENTIAL_KIND_SERVICE_ACCOUNT);
  EXPECT_THAT(log.when(UpdateTarget{other_kind, ""}, "ada").error().reason,
              HasSubstr("comes with a rotation"));
  EXPECT_EQ(log.when(UpdateTarget{cluster("nope"), ""}, "ada").error().code,
            Rejection::Code::kNotFound);
}

TEST(TargetDecider, RemovalIsRefusedWhileInUseAndVersionsNeverRepeat) {
  Log log;
  ASSERT_TRUE(log.when(RegisterTarget{cluster(), 1, ""}, "ada"));
  auto in_use = log.when(RemoveTarget{"prod-eu", {"shop/prod", "shop/staging"}, ""}, "ada");
  ASSERT_FALSE(in_use);
  EXPECT_EQ(in_use.error().code, Rejection::Code::kInvalidTransition);
  EXPECT_THAT(in_use.error().reason, HasSubstr("shop/prod, shop/staging"));
  ASSERT_THAT(types(log.when(RemoveTarget{"prod-eu", {}, "gone"}, "ada")),
              ElementsAre("TargetRemoved"));
  EXPECT_EQ(log.when(RemoveTarget{"prod-eu", {}, ""}, "ada").error().code,
            Rejection::Code::kNotFound);
  // Registered again: the credential version continues (the sealed store's
  // associated data never sees a version twice).
  EXPECT_EQ(log.when(RegisterTarget{cluster(), 1, ""}, "ada").error().code,
            Rejection::Code::kInvalidTransition);
  ASSERT_THAT(types(log.when(RegisterTarget{cluster(), 2, ""}, "ada")),
              ElementsAre("TargetRegistered"));
}

TEST(TargetDecider, HealthIsAnEventOnlyOnChange) {
  Log log;
  ASSERT_TRUE(log.when(RegisterTarget{cluster(), 1, ""}, "ada"));
  auto up = log.when(ObserveTargetHealth{"prod-eu", true, "v1.31.0", ""}, "system");
  ASSERT_THAT(types(up), ElementsAre("TargetHealthChanged"));
  auto same = log.when(ObserveTargetHealth{"prod-eu", true, "v1.31.0", ""}, "system");
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->empty());
  auto down = log.when(ObserveTargetHealth{"prod-eu", false, "", "connection refused"}, "system");
  ASSERT_THAT(types(down), ElementsAre("TargetHealthChanged"));
  EXPECT_EQ(down->at(0).payload().target_health_changed().error(), "connection refused");
  // Another error while still down is no news.
  auto still = log.when(ObserveTargetHealth{"prod-eu", false, "", "timeout"}, "system");
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->empty());
}

TEST(CredentialNamed, TheKeysTheIssueNames) {
  for (const char* key :
       {"token", "password", "api_key", "secret", "TOKEN", "bearer_token", "db_password", "ssh_key",
        "client_secret", "Api_Key", "dubbo_zookeeper_digest"}) {
    EXPECT_TRUE(credential_named(key)) << key;
  }
  for (const char* key : {"namespace", "deployment", "container", "service", "token_file",
                          "ca_file", "port", "keystone", "url", "endpoint_id"}) {
    EXPECT_FALSE(credential_named(key)) << key;
  }
}

}  // namespace
}  // namespace wharf::engine::testing
