// The web UI's static handler through a real server: content types, cache
// headers for hashed assets vs index.html, SPA fallback, no escape from the
// root, ETag revalidation, the "not built" page, and /api staying JSON.
#include <fstream>

#include "tests/api/api_test_support.h"

namespace wharf::api::testing {
namespace {

void write(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  StaticFilesTest() {
    root_ = scratch_.path() / "dist";
    write(root_ / "index.html", "<!doctype html><div id=app></div>");
    write(root_ / "assets" / "index-Bx9_a1Zq.js", "console.log(1)");
    write(root_ / "assets" / "index-C2dE3fG4.css", "body{}");
    write(root_ / "favicon.svg", "<svg/>");
    write(scratch_.path() / "secret.txt", "do not serve");
    auto config = ApiHarness::default_config();
    config.ui_dir = root_.string();
    harness_ = std::make_unique<ApiHarness>(config);
  }
  HttpResult get(const std::string& target,
                 const std::map<std::string, std::string>& headers = {}) {
    Client c(harness_->port());
    return c.request(beast::http::verb::get, target, "", "", headers);
  }

  TempDir scratch_;
  std::filesystem::path root_;
  std::unique_ptr<ApiHarness> harness_;
};

TEST_F(StaticFilesTest, IndexAndAssetsWithTypesAndCacheHeaders) {
  auto index = get("/");
  EXPECT_EQ(index.status, 200u);
  EXPECT_EQ(index.body, "<!doctype html><div id=app></div>");
  EXPECT_EQ(index.headers["Content-Type"], "text/html; charset=utf-8");
  EXPECT_EQ(index.headers["Cache-Control"], "no-cache");

  auto js = get("/assets/index-Bx9_a1Zq.js");
  EXPECT_EQ(js.status, 200u);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.headers["Content-Type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(js.headers["Cache-Control"], "public, max-age=31536000, immutable");

  auto css = get("/assets/index-C2dE3fG4.css");
  EXPECT_EQ(css.headers["Content-Type"], "text/css; charset=utf-8");
  EXPECT_EQ(css.headers["Cache-Control"], "public, max-age=31536000, immutable");

  auto icon = get("/favicon.svg");
  EXPECT_EQ(icon.status, 200u);
  EXPECT_EQ(icon.headers["Content-Type"], "image/svg+xml");
  EXPECT_EQ(icon.headers["Cache-Control"], "no-cache");  // not content-hashed
}

TEST_F(StaticFilesTest, ClientRoutesFallBackToIndexButMissingFilesAre404) {
  for (const char* route :
       {"/projects", "/projects/shop/runs/r-1", "/audit?at=2026-01-01T00:00:00Z"}) {
    SCOPED_TRACE(route);
    auto r = get(route);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "<!doctype html><div id=app></div>");
    EXPECT_EQ(r.headers["Cache-Control"], "no-cache");
  }
  auto missing = get("/assets/gone-12345678.js");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.error_code(), "not_found");
}

TEST_F(StaticFilesTest, NoPathLeavesTheRoot) {
  for (const char* target :
       {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt",
        "/assets/%2E%2E/%2e%2e/secret.txt", "/..%5csecret.txt", "/assets/%00.js"}) {
    SCOPED_TRACE(target);
    auto r = get(target);
    EXPECT_NE(r.body, "do not serve");
    EXPECT_TRUE(r.status == 404u || r.status == 400u) << r.status;
  }
  // A symlink inside the root that points outside is not followed out.
  std::filesystem::create_symlink(scratch_.path() / "secret.txt", root_ / "leak.txt");
  auto r = get("/leak.txt");
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.body, "do not serve");
}

TEST_F(StaticFilesTest, EtagRevalidationAnswers304) {
  auto first = get("/");
  const auto etag = first.headers["ETag"];
  ASSERT_FALSE(etag.empty());
  auto again = get("/", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  auto other = get("/", {{"If-None-Match", "\"stale\""}});
  EXPECT_EQ(other.status, 200u);
}

TEST_F(StaticFilesTest, ApiPathsStayJsonAndWritesAreNotFiles) {
  auto api = get("/api/v1/nothing-here");
  EXPECT_EQ(api.status, 404u);
  EXPECT_EQ(api.error_code(), "route_not_found");
  EXPECT_EQ(api.headers["Content-Type"], "application/json");
  Client c(harness_->port());
  auto post = c.request(beast::http::verb::post, "/index.html", "", "{}");
  EXPECT_EQ(post.status, 404u);
  EXPECT_EQ(post.error_code(), "route_not_found");
}

TEST(StaticFilesNotBuiltTest, EveryPageSaysHowToBuildTheUi) {
  TempDir empty;
  auto config = ApiHarness::default_config();
  config.ui_dir = (empty.path() / "dist").string();
  ApiHarness h(config);
  auto r = h.get("/projects");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.headers["Content-Type"], "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("scripts/build-ui"), std::string::npos);
  EXPECT_NE(r.body.find(config.ui_dir), std::string::npos);
}

TEST(StaticFilesNamesTest, ContentTypesAndHashedNames) {
  EXPECT_EQ(StaticFiles::content_type("a.WOFF2"), "font/woff2");
  EXPECT_EQ(StaticFiles::content_type("a.png"), "image/png");
  EXPECT_EQ(StaticFiles::content_type("LICENSE"), "application/octet-stream");
  EXPECT_EQ(StaticFiles::content_type("x.tar.unknown"), "application/octet-stream");
  EXPECT_TRUE(StaticFiles::hashed_asset("assets/index-Bx9_a1Zq.js"));
  EXPECT_TRUE(StaticFiles::hashed_asset("assets/RunView-DyT0kQ2m.css"));
  EXPECT_TRUE(
      StaticFiles::hashed_asset("assets/AtPicker.vue_vue_type_script_setup_true_lang-DPwirw2V.js"));
  EXPECT_FALSE(StaticFiles::hashed_asset("assets/logo.svg"));
  EXPECT_FALSE(StaticFiles::hashed_asset("assets/a-short.js"));
  EXPECT_FALSE(StaticFiles::hashed_asset("index-Bx9_a1Zq.js"));
  EXPECT_FALSE(StaticFiles::hashed_asset("assets/sub/index-Bx9_a1Zq.js"));
}

}  // namespace
}  // namespace wharf::api::testing
