// A real `wharf serve` ($WHARF_BIN or this tree's) and its sealed store: a
// registered credential is nowhere in clear in the data directory or serve's
// log; a wrong or missing key stops serve with a message that says so (a
// missing one is never replaced); the right key brings the target back.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/serve_process.h"

namespace wharf::targets {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(ServeSealedStore, CredentialsStaySealedAndAWrongOrMissingKeyStopsServe) {
  runtime::testing::TempDir dir;
  const fs::path data = dir.path() / "data";
  std::random_device rd;
  const std::string marker = "canaryServeToken" + std::to_string(rd()) + std::to_string(rd());
  wharf::testing::ServeProcess serve(data, {"--target-probe-interval", "1"});
  serve.start();
  auto created = serve.api("POST", "/api/v1/targets",
                           R"({"name":"k8s","kind":"kubernetes","url":"http://127.0.0.1:1",
                               "credential":{"kind":"bearer_token","token":")" +
                               marker + R"("}})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.body.find(marker), std::string::npos);
  // The probe records that nothing answers there (an event on the change).
  ASSERT_TRUE(runtime::testing::eventually(
      [&] {
        auto h = json::parse(serve.api("GET", "/api/v1/targets/k8s/health").body);
        return h.at("known").as_bool();
      },
      std::chrono::seconds(20)));
  auto health = json::parse(serve.api("GET", "/api/v1/targets/k8s/health").body);
  EXPECT_FALSE(health.at("reachable").as_bool());
  EXPECT_NE(serve.api("GET", "/metrics").body.find(
                "wharf_target_reachable{target=\"k8s\",kind=\"kubernetes\"} 0"),
            std::string::npos);
  ASSERT_EQ(serve.terminate(), 0);

  for (const auto& e : fs::recursive_directory_iterator(data)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(slurp(e.path()).find(marker), std::string::npos) << e.path() << " holds the token";
  }
  EXPECT_TRUE(fs::exists(data / "secrets" / "target" / "k8s" / "1.sealed"));

  const fs::path key = data / "secret.key";
  const std::string right = slurp(key);
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(key, std::ios::trunc) << std::string(64, 'b') << "\n";
  wharf::testing::ServeProcess wrong(data, {});
  EXPECT_THROW(wrong.start(), std::runtime_error);
  EXPECT_NE(wrong.log().find("is not the key of the sealed store"), std::string::npos)
      << wrong.tail();

  fs::remove(key);
  wharf::testing::ServeProcess missing(data, {});
  EXPECT_THROW(missing.start(), std::runtime_error);
  EXPECT_NE(missing.log().find("is missing; restore it from your backup"), std::string::npos)
      << missing.tail();
  EXPECT_FALSE(fs::exists(key)) << "a missing key is never replaced by a new one";

  std::ofstream(key, std::ios::trunc) << right;
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  wharf::testing::ServeProcess again(data, {});
  again.start();
  auto target = again.api("GET", "/api/v1/targets/k8s");
  ASSERT_EQ(target.status, 200) << target.body;
  EXPECT_EQ(json::parse(target.body).at("credential").at("version").as_int64(), 1);
  EXPECT_EQ(again.terminate(), 0);
}

}  // namespace
}  // namespace wharf::targets
