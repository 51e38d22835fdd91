// Issue 26: a real `wharf serve` restarts from the state snapshots of its
// in-memory consumers (process manager, access index, targets catalog) and
// folds only the events after them - after a clean stop (which writes them)
// and after a SIGKILL that came after more appends (the snapshots are then
// older than the log: the tail is folded, nothing acknowledged is lost).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/runtime/e2e_support.h"
#include "tests/serve_process.h"
#include "tests/test_paths.h"

namespace wharf::runtime::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// One sample of /metrics, -1 when absent.
double metric(const wharf::testing::ServeProcess& serve, const std::string& series) {
  const std::string text = serve.api("GET", "/metrics").body;
  const size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}
double folded(const wharf::testing::ServeProcess& serve, const std::string& consumer) {
  return metric(serve, "wharf_state_events_folded{consumer=\"" + consumer + "\"}");
}
double loaded(const wharf::testing::ServeProcess& serve, const std::string& consumer) {
  return metric(serve,
                "wharf_state_snapshot_position{consumer=\"" + consumer + "\",snapshot=\"loaded\"}");
}

uint64_t head(const wharf::testing::ServeProcess& serve) {
  auto r = serve.api("GET", "/readyz");
  return json::parse(r.body).as_object().at("head_position").to_number<uint64_t>();
}

// GET as `token` (not the admin's).
int status_as(const wharf::testing::ServeProcess& serve, const std::string& token,
              const std::string& path) {
  http_client::Request req;
  req.method = "GET";
  req.url = serve.url() + path;
  req.headers.emplace_back("Authorization", "Bearer " + token);
  auto r = http_client::send(req);
  return r ? r->status : -1;
}

std::string create_token(const wharf::testing::ServeProcess& serve, const std::string& user) {
  auto r = serve.api("POST", "/api/v1/tokens", R"({"user": ")" + user + R"("})");
  if (r.status != 201) throw std::runtime_error("token: " + r.body);
  return std::string(json::parse(r.body).as_object().at("token").as_string());
}

const char* const kConsumers[] = {"process_manager", "access_index", "target_catalog"};

// After a start: every consumer began at `snapshot` and folded exactly the
// events after it (once the process manager handled them all).
void expect_started_from(const wharf::testing::ServeProcess& serve, uint64_t snapshot) {
  const uint64_t now = head(serve);
  for (const char* consumer : kConsumers) {
    EXPECT_EQ(loaded(serve, consumer), static_cast<double>(snapshot)) << consumer;
  }
  EXPECT_TRUE(eventually(
      [&] { return folded(serve, "process_manager") == static_cast<double>(now - snapshot); }, 10s))
      << folded(serve, "process_manager") << " != " << now - snapshot;
  // The access index folds up to the head on each authenticated request.
  EXPECT_EQ(folded(serve, "access_index"), static_cast<double>(now - snapshot));
}

TEST(ServeSnapshot, RestartsFoldOnlyTheEventsAfterTheSnapshotsAndLoseNothing) {
  TempDir dir;
  const fs::path data = dir.path() / "data";
  const fs::path repo = dir.path() / "repo";
  make_hello_repo(repo);
  wharf::testing::ServeProcess serve(data, {});
  serve.start();
  ASSERT_TRUE(eventually([&] { return serve.api("GET", "/readyz").status == 200; }, 30s));
  // A first start folds the whole (short) log.
  EXPECT_EQ(loaded(serve, "process_manager"), 0);

  auto created = wharf::testing::create_hello_project(serve, repo);
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string bob = create_token(serve, "bob");
  EXPECT_EQ(status_as(serve, bob, "/api/v1/projects/hello"), 403);
  auto granted = serve.api("POST", "/api/v1/projects/hello/permissions",
                           R"({"user": "bob", "role": "viewer"})");
  ASSERT_EQ(granted.status / 100, 2) << granted.body;
  ASSERT_EQ(status_as(serve, bob, "/api/v1/projects/hello"), 200);

  // 1. A clean stop writes the snapshots at the head; the next start folds
  //    nothing older.
  const uint64_t at_stop = head(serve);
  ASSERT_EQ(serve.terminate(), 0) << serve.tail();
  serve.start();
  ASSERT_TRUE(eventually([&] { return serve.api("GET", "/readyz").status == 200; }, 30s));
  EXPECT_EQ(status_as(serve, bob, "/api/v1/projects/hello"), 200);
  expect_started_from(serve, at_stop);

  // 2. More appends (a revocation, a new user), then SIGKILL before any
  //    snapshot covers them: the restart folds them from the log.
  auto revoked = serve.api("POST", "/api/v1/projects/hello/permissions/revoke",
                           R"({"user": "bob", "role": "viewer"})");
  ASSERT_EQ(revoked.status / 100, 2) << revoked.body;
  const std::string carol = create_token(serve, "carol");
  ASSERT_EQ(serve.api("POST", "/api/v1/projects/hello/permissions",
                      R"({"user": "carol", "role": "deployer"})")
                    .status /
                100,
            2);
  EXPECT_EQ(status_as(serve, bob, "/api/v1/projects/hello"), 403);
  serve.kill_now();
  serve.start();
  ASSERT_TRUE(eventually([&] { return serve.api("GET", "/readyz").status == 200; }, 30s));
  EXPECT_EQ(status_as(serve, bob, "/api/v1/projects/hello"), 403);    // revocation kept
  EXPECT_EQ(status_as(serve, carol, "/api/v1/projects/hello"), 200);  // grant kept
  expect_started_from(serve, at_stop);
  EXPECT_EQ(serve.terminate(), 0);

  // 3. The start-up log says where each consumer started.
  {
    std::ofstream mark(data / "serve.log", std::ios::app);
    mark << "---- third start\n";
  }
  serve.start();
  ASSERT_TRUE(eventually([&] { return serve.api("GET", "/readyz").status == 200; }, 30s));
  const std::string log = serve.log();
  const std::string third = log.substr(log.rfind("---- third start"));
  EXPECT_NE(third.find("process-manager: state snapshot at position"), std::string::npos) << third;
  EXPECT_NE(third.find("access-index: state snapshot at position"), std::string::npos) << third;
  EXPECT_EQ(serve.terminate(), 0);
}

}  // namespace
}  // namespace wharf::runtime::testing
