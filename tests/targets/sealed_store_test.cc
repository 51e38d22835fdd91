// The sealed store: entries open only with the key, name and version they
// were sealed with; the key is created 0600 once; a wrong or missing key, or
// a corrupted entry, is a clear error; and the registry's reference forms.
#include "adapters/targets/sealed_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "adapters/targets/registry.h"
#include "tests/targets/test_targets.h"

namespace wharf::targets {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SealedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ =
        fs::temp_directory_path() / ("wharf-sealed-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  SealedStore::Options options() const { return {dir_ / "secrets", dir_ / "secret.key"}; }
  std::unique_ptr<SealedStore> open_ok() {
    auto s = SealedStore::open(options());
    EXPECT_TRUE(s) << (s ? "" : s.error());
    return s ? std::move(*s) : nullptr;
  }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // Every byte under the directory, concatenated.
  std::string all_bytes() const {
    std::string out;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file()) out += slurp(e.path());
    }
    return out;
  }
  fs::path dir_;
};

TEST_F(SealedStoreTest, RoundTripAndNothingInClear) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  const std::string marker = "canary-7f3e9a-token";
  ASSERT_TRUE(store->put(target_entry("prod-eu"), 1, "{\"token\":\"" + marker + "\"}"));
  auto back = store->get(target_entry("prod-eu"), 1);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, "{\"token\":\"" + marker + "\"}");
  EXPECT_EQ(all_bytes().find(marker), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(store->path_of(target_entry("prod-eu"), 1).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Reopened with the same key: still there; the key file is not rewritten.
  const std::string key = slurp(dir_ / "secret.key");
  store.reset();
  store = open_ok();
  ASSERT_TRUE(store);
  EXPECT_EQ(slurp(dir_ / "secret.key"), key);
  EXPECT_TRUE(store->get(target_entry("prod-eu"), 1));
}

TEST_F(SealedStoreTest, AnEntryOpensOnlyUnderItsNameAndVersion) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put(target_entry("a"), 1, "secret-a"));
  // Copy a's file to b (and to version 2 of a): the associated data differs.
  fs::create_directories(store->path_of(target_entry("b"), 1).parent_path());
  fs::copy_file(store->path_of(target_entry("a"), 1), store->path_of(target_entry("b"), 1));
  fs::copy_file(store->path_of(target_entry("a"), 1), store->path_of(target_entry("a"), 2));
  auto b = store->get(target_entry("b"), 1);
  ASSERT_FALSE(b);
  EXPECT_THAT(b.error(), HasSubstr("target/b"));
  EXPECT_THAT(b.error(), HasSubstr("authentication failed"));
  EXPECT_FALSE(store->get(target_entry("a"), 2));
  EXPECT_TRUE(store->get(target_entry("a"), 1));
}

TEST_F(SealedStoreTest, CorruptedEntryNamesItAndOthersStillOpen) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put(target_entry("broken"), 3, "one"));
  ASSERT_TRUE(store->put(target_entry("fine"), 1, "two"));
  const fs::path p = store->path_of(target_entry("broken"), 3);
  std::string bytes = slurp(p);
  bytes[bytes.size() / 2] ^= 0x40;
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  auto broken = store->get(target_entry("broken"), 3);
  ASSERT_FALSE(broken);
  EXPECT_THAT(broken.error(), HasSubstr("target/broken"));
  EXPECT_THAT(broken.error(), HasSubstr("version 3"));
  auto fine = store->get(target_entry("fine"), 1);
  ASSERT_TRUE(fine);
  EXPECT_EQ(*fine, "two");
}

TEST_F(SealedStoreTest, WrongKeyRefusesToOpen) {
  ASSERT_TRUE(open_ok());
  std::ofstream(dir_ / "secret.key", std::ios::trunc) << std::string(64, 'a') << "\n";
  auto s = SealedStore::open(options());
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error(), HasSubstr("is not the key of the sealed store"));
}

TEST_F(SealedStoreTest, MissingKeyWithAStoreRefusesAndNeverMakesANewOne) {
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put(target_entry("a"), 1, "x"));
  }
  fs::remove(dir_ / "secret.key");
  auto s = SealedStore::open(options());
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error(), HasSubstr("key file"));
  EXPECT_THAT(s.error(), HasSubstr("is missing"));
  EXPECT_FALSE(fs::exists(dir_ / "secret.key"));
}

TEST_F(SealedStoreTest, KeyFileThatIsNoKeyIsRefused) {
  std::ofstream(dir_ / "secret.key") << "not hex\n";
  auto s = SealedStore::open(options());
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error(), HasSubstr("64 hex digits"));
}

TEST_F(SealedStoreTest, PruneKeepsTheCurrentVersion) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  for (uint32_t v = 1; v <= 3; ++v) ASSERT_TRUE(store->put(target_entry("t"), v, "v"));
  store->prune(target_entry("t"), 3);
  EXPECT_EQ(store->versions(target_entry("t")), std::vector<uint32_t>{3});
  store->prune(target_entry("t"), 0);
  EXPECT_TRUE(store->versions(target_entry("t")).empty());
}

TEST_F(SealedStoreTest, RegistryOpensCredentialsAndReferenceForms) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  wharf::v1::TargetSpec spec;
  spec.set_name("prod-eu");
  spec.set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
  spec.set_url("https://k8s:6443");
  spec.set_credential(wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN);

  ASSERT_TRUE(store->put(target_entry("prod-eu"), 1, encode_credential({{"token", "t-1"}})));
  auto t = open_target(spec, 1, store.get());
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->token, "t-1");

  ::setenv("WHARF_TEST_SEALED_TOKEN", "from-env", 1);
  ASSERT_TRUE(store->put(target_entry("prod-eu"), 2,
                         encode_credential({{"token", "env:WHARF_TEST_SEALED_TOKEN"}})));
  t = open_target(spec, 2, store.get());
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->token, "from-env");
  ::unsetenv("WHARF_TEST_SEALED_TOKEN");
  auto unset = open_target(spec, 2, store.get());
  ASSERT_FALSE(unset);
  EXPECT_THAT(unset.error(), HasSubstr("WHARF_TEST_SEALED_TOKEN, which is not set"));

  std::ofstream(dir_ / "token") << "from-file\n";
  ASSERT_TRUE(store->put(target_entry("prod-eu"), 3,
                         encode_credential({{"token_file", (dir_ / "token").string()}})));
  t = open_target(spec, 3, store.get());
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->token, "from-file");

  auto absent = open_target(spec, 4, store.get());
  ASSERT_FALSE(absent);
  EXPECT_THAT(absent.error(), HasSubstr("target prod-eu"));

  EXPECT_FALSE(check_credential(wharf::v1::CREDENTIAL_KIND_USER_PASSWORD, {{"username", "u"}}));
  EXPECT_FALSE(check_credential(wharf::v1::CREDENTIAL_KIND_API_KEY, {{"token", "x"}}));
  EXPECT_TRUE(check_credential(wharf::v1::CREDENTIAL_KIND_API_KEY, {{"api_key", "x"}}));
}

// What every adapter checks before it calls: a name, a registered target,
// of the adapter's kind.
TEST(ResolveNamed, ANameARegisteredTargetAndTheRightKind) {
  testing::TestTargets registered;
  registered.kubernetes("eu", "https://k8s.example:6443", "/etc/ca.pem", "t0k");
  auto ok = resolve_named(registered, "eu", wharf::v1::TARGET_KIND_KUBERNETES);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->token, "t0k");
  EXPECT_EQ(ok->spec.ca_file(), "/etc/ca.pem");
  auto none = resolve_named(registered, "", wharf::v1::TARGET_KIND_PORTAINER);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(),
            "swarm environment names no target: set its target_ref to a registered Portainer "
            "(docs/targets.md)");
  auto other = resolve_named(registered, "eu", wharf::v1::TARGET_KIND_JENKINS);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), "target eu is not a Jenkins target but kubernetes");
  auto unknown = resolve_named(registered, "us", wharf::v1::TARGET_KIND_KUBERNETES);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("\"us\""), std::string::npos) << unknown.error();
}

}  // namespace
}  // namespace wharf::targets
