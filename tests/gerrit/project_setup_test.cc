// Gerrit project set-up without a Gerrit: names become one percent-encoded
// path segment, the XSSI guard is stripped, branch filters give the branch
// names to create, and a set-up that cannot start says why.
#include "adapters/gerrit/project_setup.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace wharf::gerrit {
namespace {

TEST(GerritProjectSetup, NamesWithSlashesAreOnePathSegment) {
  EXPECT_EQ(encode_segment("app"), "app");
  EXPECT_EQ(encode_segment("team/app"), "team%2Fapp");
  EXPECT_EQ(encode_segment("a b+c%d?e#f"), "a%20b%2Bc%25d%3Fe%23f");
  EXPECT_EQ(encode_segment("x.y_z-1~"), "x.y_z-1~");
  EXPECT_EQ(project_path("team/sub/app"), "/a/projects/team%2Fsub%2Fapp");
  EXPECT_EQ(branch_path("team/app", "release/1.0"),
            "/a/projects/team%2Fapp/branches/release%2F1.0");
  // A full ref name is sent short, as the branch's name.
  EXPECT_EQ(branch_path("app", "refs/heads/main"), "/a/projects/app/branches/main");
}

TEST(GerritProjectSetup, StripsTheXssiGuard) {
  EXPECT_EQ(strip_xssi(")]}'\n{\"name\":\"app\"}"), "\n{\"name\":\"app\"}");
  EXPECT_EQ(strip_xssi("{\"name\":\"app\"}"), "{\"name\":\"app\"}");
  EXPECT_EQ(strip_xssi(")]}'"), "");
  EXPECT_EQ(strip_xssi(")]}"), ")]}");  // not the whole guard: left alone
  // What is left parses as JSON (leading newline and all).
  auto v = boost::json::parse(strip_xssi(")]}'\n[{\"ref\":\"refs/heads/main\"}]"));
  EXPECT_EQ(v.as_array().at(0).as_object().at("ref").as_string(), "refs/heads/main");
}

TEST(GerritProjectSetup, BranchFiltersGiveExactNamesOnly) {
  EXPECT_EQ(branches_to_create({"main", "release/*", "refs/heads/dev", "main", "rc-?", "[ab]", ""}),
            (std::vector<std::string>{"main", "dev"}));
  EXPECT_TRUE(branches_to_create({}).empty());
  EXPECT_EQ(branches_to_create({"release/1.0"}), (std::vector<std::string>{"release/1.0"}));
}

TEST(GerritProjectSetup, RefusesWithoutCredentialsOrAnswer) {
  RestOptions anonymous;
  anonymous.base_url = "http://127.0.0.1:1";
  auto no_user = setup_project(anonymous, {"app", {"main"}});
  ASSERT_FALSE(no_user);
  EXPECT_EQ(no_user.error().http_status, 0);
  EXPECT_NE(no_user.error().message.find("no Gerrit HTTP user"), std::string::npos)
      << no_user.error().message;

  RestOptions down = anonymous;  // nothing listens on port 1
  down.user = "admin";
  down.http_password = "secret";
  down.timeout_s = 5;
  auto refused = setup_project(down, {"team/app", {"main"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().http_status, 0);
  EXPECT_FALSE(refused.error().auth());
  EXPECT_NE(refused.error().message.find("create Gerrit project team/app"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("team%2Fapp"), std::string::npos)
      << refused.error().message;

  RestOptions bad_url = down;
  bad_url.base_url = "ftp://review.example.org";
  auto bad = setup_project(bad_url, {"app", {}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("http:// or https://"), std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace wharf::gerrit
