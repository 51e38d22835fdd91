// A real `wharf serve` ($WHARF_BIN or this tree's) and its sealed store: a
// registered credential is nowhere in clear in the data directory or serve's
// log; a wrong or missing key stops serve with a message that says so (a
// missing one is never replaced); the right key brings the target back. The
// --jenkins-* shorthand registers target "jenkins" once and writes again
// only when a flag changed.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
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
  EXPECT_NE(serve.api("GET", "/metrics")
                .body.find("wharf_target_reachable{target=\"k8s\",kind=\"kubernetes\"} 0"),
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

// The types of the events on stream target-jenkins, in order.
std::vector<std::string> jenkins_events(wharf::testing::ServeProcess& serve) {
  auto r = serve.api("GET", "/api/v1/streams/target-jenkins");
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<std::string> out;
  const json::value body = json::parse(r.body);
  for (const auto& e : body.at("events").as_array()) {
    out.emplace_back(e.at("type").as_string());
  }
  return out;
}

TEST(ServeSealedStore, JenkinsFlagsWriteOnlyWhenTheyChanged) {
  runtime::testing::TempDir dir;
  const fs::path data = dir.path() / "data";
  auto start = [&](const std::string& url, const std::string& token) {
    auto serve = std::make_unique<wharf::testing::ServeProcess>(
        data, std::vector<std::string>{"--target-probe-interval", "0", "--jenkins-url", url,
                                       "--jenkins-user", "ci", "--jenkins-token", token});
    serve->start();
    return serve;
  };
  const std::vector<std::string> registered = {"TargetRegistered"};
  {
    auto serve = start("http://127.0.0.1:1/", "tok-1");
    EXPECT_EQ(jenkins_events(*serve), registered);
    ASSERT_EQ(serve->terminate(), 0);
  }
  for (int restart = 0; restart < 2; ++restart) {  // the same flags: nothing new
    auto serve = start("http://127.0.0.1:1/", "tok-1");
    EXPECT_EQ(jenkins_events(*serve), registered) << "restart " << restart;
    ASSERT_EQ(serve->terminate(), 0);
  }
  {
    auto serve = start("http://127.0.0.1:1/", "tok-2");  // a new token: one rotation
    EXPECT_EQ(jenkins_events(*serve),
              (std::vector<std::string>{"TargetRegistered", "TargetCredentialsRotated"}));
    ASSERT_EQ(serve->terminate(), 0);
  }
  {
    auto serve = start("http://127.0.0.1:2/", "tok-2");  // a new URL: one update
    EXPECT_EQ(jenkins_events(*serve),
              (std::vector<std::string>{"TargetRegistered", "TargetCredentialsRotated",
                                        "TargetUpdated"}));
    ASSERT_EQ(serve->terminate(), 0);
  }
  auto serve = start("http://127.0.0.1:2/", "tok-2");
  EXPECT_EQ(jenkins_events(*serve).size(), 3u);
  auto target = json::parse(serve->api("GET", "/api/v1/targets/jenkins").body);
  EXPECT_EQ(target.at("url").as_string(), "http://127.0.0.1:2/");
  EXPECT_EQ(target.at("credential").at("version").as_int64(), 2);
  EXPECT_EQ(serve->terminate(), 0);
}

}  // namespace
}  // namespace wharf::targets
