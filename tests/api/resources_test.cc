// Route by route over a real socket, against the real engine (command bus)
// and projections: projects, permissions flow, runs, versions, environments,
// deploy, rollback, audit, logs.
#include <fstream>

#include "adapters/local/layout.h"
#include "tests/api/api_test_support.h"

namespace wharf::api::testing {
namespace {

using beast::http::verb;

class ResourcesTest : public ::testing::Test {
 protected:
  HttpResult call(verb method, const std::string& target, const std::string& token,
                  const std::string& body = "") {
    Client c(h.port());
    return c.request(method, target, token, body);
  }
  // Runs a command and returns its position, failing the test unless 202.
  uint64_t command(verb method, const std::string& target, const std::string& token,
                   const std::string& body, json::object* out = nullptr) {
    auto r = call(method, target, token, body);
    EXPECT_EQ(r.status, 202u) << target << ": " << r.body;
    if (r.status != 202u) return 0;
    auto v = r.json();
    if (out != nullptr) *out = v.as_object();
    return v.at("position").to_number<uint64_t>();
  }
  std::string with_min(const std::string& target, uint64_t position) {
    return target + (target.find('?') == std::string::npos ? "?" : "&") +
           "min_position=" + std::to_string(position);
  }
  uint64_t create_shop(const std::string& token) {
    return command(verb::post, "/api/v1/projects", token, R"({
      "project_id": "shop", "name": "Shop",
      "repository": {"gerrit": {"host": "review.example", "project": "shop",
                                "branches": ["main"], "webhook_secret": "hush"}},
      "environments": [{"name": "staging", "target": "local", "settings": {"port": "9100"}}],
      "template": {"build": {"command": "make", "artifact_path": "out"},
                   "start_command": "./out/serve", "health_path": "/healthz"}})");
  }

  ApiHarness h;
};

TEST_F(ResourcesTest, CreateProjectThenReadIt) {
  const std::string alice = h.token_for("alice");
  const uint64_t pos = create_shop(alice);
  ASSERT_GT(pos, 0u);
  auto r = call(verb::get, with_min("/api/v1/projects/shop", pos), alice);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto p = r.json();
  EXPECT_EQ(p.at("name").as_string(), "Shop");
  EXPECT_EQ(p.at("owner").as_string(), "alice");
  EXPECT_EQ(p.at("environments").as_array().size(), 1u);
  EXPECT_TRUE(p.at("repository").at("gerrit").at("webhook_secret_set").as_bool());
  EXPECT_EQ(r.body.find("hush"), std::string::npos);
  EXPECT_EQ(r.body.find(sha256_hex("hush")), std::string::npos);
  // The creator is its owner: listed for her, hidden from others.
  auto mine = call(verb::get, "/api/v1/projects", alice).json();
  EXPECT_EQ(mine.at("projects").as_array().size(), 1u);
  const std::string bob = h.token_for("bob");
  auto theirs = call(verb::get, "/api/v1/projects", bob).json();
  EXPECT_TRUE(!theirs.as_object().contains("projects") || theirs.at("projects").as_array().empty());
  EXPECT_EQ(call(verb::get, "/api/v1/projects/shop", bob).status, 403u);
}

// The projects list and the landscape come a page at a time, in creation
// order, over the projects the caller may see: ?limit= (default the config's
// default_page), ?cursor= from the previous page's next_cursor.
TEST_F(ResourcesTest, ProjectsAndLandscapeArePaged) {
  const std::string alice = h.token_for("alice"), bob = h.token_for("bob");
  uint64_t pos = 0;
  for (const char* id : {"p1", "p2", "b1", "p3", "p4"}) {
    const bool bobs = id[0] == 'b';
    pos = command(verb::post, "/api/v1/projects", bobs ? bob : alice,
                  std::string(R"({"project_id":")") + id + R"("})");
  }
  for (const char* route : {"/api/v1/projects", "/api/v1/landscape"}) {
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
      std::string target = std::string(route) + "?limit=2";
      if (!cursor.empty()) target += "&cursor=" + cursor;
      auto r = call(verb::get, with_min(target, pos), alice);
      ASSERT_EQ(r.status, 200u) << r.body;
      auto body = r.json().as_object();
      const auto& list = body.at("projects").as_array();
      EXPECT_LE(list.size(), 2u) << route;
      for (const auto& p : list) seen.emplace_back(p.at("project_id").as_string());
      cursor = body.contains("next_cursor") ? std::string(body.at("next_cursor").as_string()) : "";
      ++pages;
    } while (!cursor.empty() && pages < 10);
    EXPECT_EQ(seen, (std::vector<std::string>{"p1", "p2", "p3", "p4"})) << route;
    EXPECT_EQ(pages, 2) << route;
    // Without a limit: the default page holds them all; a bad limit is refused.
    auto all = call(verb::get, with_min(route, pos), alice).json();
    EXPECT_EQ(all.at("projects").as_array().size(), 4u) << route;
    EXPECT_EQ(all.at("next_cursor").as_string(), "") << route;
    EXPECT_EQ(call(verb::get, std::string(route) + "?limit=0", alice).status, 400u) << route;
    EXPECT_EQ(call(verb::get, std::string(route) + "?limit=100000", alice).status, 400u) << route;
  }
  // Insights page their groups the same way; a cursor not of that list is refused.
  auto insights = call(verb::get, with_min("/api/v1/insights?limit=1", pos), alice);
  ASSERT_EQ(insights.status, 200u) << insights.body;
  EXPECT_EQ(insights.json().at("next_cursor").as_string(), "");
  EXPECT_EQ(call(verb::get, "/api/v1/insights?cursor=zz", alice).status, 400u);
  EXPECT_EQ(call(verb::get, "/api/v1/insights?limit=0", alice).status, 400u);
}

TEST_F(ResourcesTest, DuplicateProjectIsRejected) {
  create_shop(h.admin_token());
  auto r = call(verb::post, "/api/v1/projects", h.admin_token(),
                R"({"project_id":"shop","name":"Other"})");
  EXPECT_EQ(r.status, 409u) << r.body;
}

// Idempotency-Key (api/resource_support.h): the same key from the same user
// is the same command; a repeat appends nothing and answers the first's
// positions. What makes a retry after a lost answer safe (docs/cluster.md).
TEST_F(ResourcesTest, IdempotencyKeyMakesARetryAppendNothing) {
  const std::string alice = h.token_for("alice");
  const std::string admin = h.admin_token();
  const std::string body = R"({"project_id":"shop","name":"Shop"})";
  auto send = [&](const std::string& token, const std::string& key) {
    Client c(h.port());
    std::map<std::string, std::string> headers;
    if (!key.empty()) headers["Idempotency-Key"] = key;
    return c.request(verb::post, "/api/v1/projects", token, body, headers);
  };
  auto first = send(alice, "create-shop-1");
  ASSERT_EQ(first.status, 202u) << first.body;
  EXPECT_FALSE(first.json().at("already_present").as_bool());
  const auto position = first.json().at("position").to_number<uint64_t>();
  const auto event_id = first.json().at("events").at(0).at("event_id");

  auto again = send(alice, "create-shop-1");
  ASSERT_EQ(again.status, 202u) << again.body;
  EXPECT_TRUE(again.json().at("already_present").as_bool());
  EXPECT_EQ(again.json().at("position").to_number<uint64_t>(), position);
  EXPECT_EQ(again.json().at("first_position").to_number<uint64_t>(), position);
  EXPECT_EQ(again.json().at("events").at(0).at("event_id"), event_id);
  EXPECT_EQ(h.store().head_position(), position) << "the repeat appended something";

  // The key is per user, and without it each request is a new command.
  EXPECT_EQ(send(admin, "create-shop-1").status, 409u);
  EXPECT_EQ(send(alice, "").status, 409u);
  EXPECT_EQ(send(alice, "create-shop-2").status, 409u);
  auto bad = send(alice, "has space");
  EXPECT_EQ(bad.status, 400u) << bad.body;
  EXPECT_NE(bad.body.find("bad_idempotency_key"), std::string::npos) << bad.body;
  EXPECT_EQ(h.store().head_position(), position);
}

TEST_F(ResourcesTest, WebhookSecretFromTheApiAuthenticatesWebhooks) {
  create_shop(h.admin_token());
  h.services().webhooks["gerrit"] = [](const WebhookDelivery&) { return WebhookResult{}; };
  auto ok = call(verb::post, "/api/v1/webhooks/gerrit/shop?secret=hush", "", "{}");
  EXPECT_EQ(ok.status, 202u) << ok.body;
  auto bad = call(verb::post, "/api/v1/webhooks/gerrit/shop?secret=loud", "", "{}");
  EXPECT_EQ(bad.status, 401u);
}

TEST_F(ResourcesTest, BindRepositoryAndDefineEnvironment) {
  create_shop(h.admin_token());
  command(verb::put, "/api/v1/projects/shop/repository", h.admin_token(),
          R"({"local_git": {"path": "/srv/git/shop", "branch": "trunk"}})");
  const uint64_t pos =
      command(verb::put, "/api/v1/projects/shop/environments/prod", h.admin_token(),
              R"({"target": "local", "requires_approval": true, "replicas": 2})");
  auto p = call(verb::get, with_min("/api/v1/projects/shop", pos), h.admin_token()).json();
  EXPECT_EQ(p.at("repository").at("local_git").at("branch").as_string(), "trunk");
  auto envs = p.at("environments").as_array();
  ASSERT_EQ(envs.size(), 2u);
  EXPECT_EQ(envs[1].at("name").as_string(), "prod");
  EXPECT_TRUE(envs[1].at("requires_approval").as_bool());
}

TEST_F(ResourcesTest, OwnerUpdatesThePipelineTemplateDeployerMayNot) {
  const std::string olive = h.token_for("olive");
  create_shop(olive);
  h.grant("shop", "dan", wharf::v1::ROLE_DEPLOYER);
  const std::string body =
      R"({"build": {"command": "make release", "artifact_path": "dist/app"},
          "start_command": "./dist/app --port $PORT", "health_path": "/ready",
          "deploy_timeout_s": 90, "config": {"LOG_LEVEL": "debug"}})";
  auto denied = call(verb::put, "/api/v1/projects/shop/template", h.token_for("dan"), body);
  EXPECT_EQ(denied.status, 403u) << denied.body;

  const uint64_t pos = command(verb::put, "/api/v1/projects/shop/template", olive, body);
  auto p = call(verb::get, with_min("/api/v1/projects/shop", pos), olive).json();
  const auto& t = p.at("template");
  EXPECT_EQ(t.at("build").at("command").as_string(), "make release");
  EXPECT_EQ(t.at("build").at("artifact_path").as_string(), "dist/app");
  EXPECT_EQ(t.at("start_command").as_string(), "./dist/app --port $PORT");
  EXPECT_EQ(t.at("health_path").as_string(), "/ready");
  EXPECT_EQ(t.at("config").at("LOG_LEVEL").as_string(), "debug");

  auto no_build =
      call(verb::put, "/api/v1/projects/shop/template", olive, R"({"start_command": "./app"})");
  EXPECT_EQ(no_build.status, 400u) << no_build.body;
  EXPECT_NE(no_build.body.find("build command"), std::string::npos) << no_build.body;
}

TEST_F(ResourcesTest, EnvironmentBodyRejectsBadEnum) {
  create_shop(h.admin_token());
  auto r = call(verb::put, "/api/v1/projects/shop/environments/prod", h.admin_token(),
                R"({"target": "mainframe"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "invalid_enum");
}

TEST_F(ResourcesTest, PermissionRequestApprovedGivesAccess) {
  const std::string alice = h.token_for("alice");
  const std::string bob = h.token_for("bob");
  create_shop(alice);
  json::object requested;
  uint64_t pos = command(verb::post, "/api/v1/permissions/requests", bob,
                         R"({"project":"shop","role":"viewer","reason":"on call"})", &requested);
  const std::string request_id(requested.at("request_id").as_string());
  EXPECT_EQ(call(verb::get, "/api/v1/projects/shop", bob).status, 403u);

  auto pending =
      call(verb::get, with_min("/api/v1/permissions?project=shop&status=pending", pos), alice);
  ASSERT_EQ(pending.status, 200u) << pending.body;
  auto requests = pending.json().at("requests").as_array();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].at("user").as_string(), "bob");
  // Bob cannot approve his own request.
  EXPECT_EQ(
      call(verb::post, "/api/v1/permissions/requests/" + request_id + "/approve", bob, "{}").status,
      403u);

  pos = command(verb::post, "/api/v1/permissions/requests/" + request_id + "/approve", alice, "{}");
  auto r = call(verb::get, with_min("/api/v1/projects/shop", pos), bob);
  EXPECT_EQ(r.status, 200u) << r.body;
  // Viewer is not deployer.
  auto deploy = call(verb::post, "/api/v1/projects/shop/environments/staging/deploy", bob,
                     R"({"version":"x"})");
  EXPECT_EQ(deploy.status, 403u);
  EXPECT_EQ(deploy.json().at("error").at("details").at("missing_role").as_string(), "deployer");

  // The grant names the approver in the log.
  auto granted = call(verb::get, "/api/v1/events?type=PermissionGranted", h.admin_token()).json();
  bool found = false;
  for (const auto& e : granted.at("events").as_array()) {
    if (e.at("data").at("user").as_string() == "bob") {
      found = true;
      EXPECT_EQ(e.at("data").at("granted_by").as_string(), "alice");
      EXPECT_EQ(e.at("data").at("request_id").as_string(), request_id);
    }
  }
  EXPECT_TRUE(found);

  // Revoked again: no access.
  pos = command(verb::post, "/api/v1/projects/shop/permissions/revoke", alice,
                R"({"user":"bob","role":"viewer","reason":"rotation over"})");
  EXPECT_EQ(call(verb::get, with_min("/api/v1/projects/shop", pos), bob).status, 403u);
}

TEST_F(ResourcesTest, PermissionRequestDeniedGivesNoAccess) {
  const std::string alice = h.token_for("alice");
  const std::string carol = h.token_for("carol");
  create_shop(alice);
  json::object requested;
  command(verb::post, "/api/v1/permissions/requests", carol,
          R"({"project":"shop","role":"deployer"})", &requested);
  const std::string request_id(requested.at("request_id").as_string());
  const uint64_t pos = command(verb::post, "/api/v1/permissions/requests/" + request_id + "/deny",
                               alice, R"({"reason":"not on the team"})");
  EXPECT_EQ(call(verb::get, with_min("/api/v1/projects/shop", pos), carol).status, 403u);
  auto mine = call(verb::get, with_min("/api/v1/permissions", pos), carol).json();
  auto requests = mine.at("requests").as_array();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].at("status").as_string(), "REQUEST_STATUS_DENIED");
  EXPECT_EQ(requests[0].at("decided_by").as_string(), "alice");
}

TEST_F(ResourcesTest, DirectGrantByOwner) {
  const std::string alice = h.token_for("alice");
  create_shop(alice);
  const uint64_t pos = command(verb::post, "/api/v1/projects/shop/permissions", alice,
                               R"({"user":"dave","role":"deployer"})");
  auto members = call(verb::get, with_min("/api/v1/permissions?project=shop", pos), alice).json();
  bool dave = false;
  for (const auto& a : members.at("assignments").as_array()) {
    if (a.at("user").as_string() == "dave") dave = a.at("role").as_string() == "ROLE_DEPLOYER";
  }
  EXPECT_TRUE(dave) << json::serialize(members);
}

TEST_F(ResourcesTest, RunLifecycleVersionsDeployAndRollback) {
  const std::string admin = h.admin_token();
  create_shop(admin);
  json::object started;
  uint64_t pos = command(verb::post, "/api/v1/projects/shop/runs", admin,
                         R"({"commit_sha":"c0ffee1","branch":"main","subject":"first"})", &started);
  ASSERT_TRUE(started.contains("run_id"));
  const std::string run(started.at("run_id").as_string());

  auto runs = call(verb::get, with_min("/api/v1/projects/shop/runs", pos), admin).json();
  ASSERT_EQ(runs.at("runs").as_array().size(), 1u);
  auto got = call(verb::get, "/api/v1/projects/shop/runs/" + run, admin);
  ASSERT_EQ(got.status, 200u) << got.body;
  EXPECT_EQ(got.json().at("commit_sha").as_string(), "c0ffee1");
  EXPECT_FALSE(got.json().at("steps").as_array().empty());
  EXPECT_EQ(call(verb::get, "/api/v1/projects/shop/runs?status=sideways", admin).error_code(),
            "invalid_enum");

  // The build succeeds (as a runner would report it): a version exists.
  auto built = h.services().commands->execute(
      engine::RecordBuildResult{run, 1, true, "sha256:aaa", "file:///artifacts/aaa", "", 0, 10},
      h.services().commands->system_context("build-1"));
  ASSERT_TRUE(built) << built.error().message();
  auto versions =
      call(verb::get, with_min("/api/v1/projects/shop/versions", built->last_position), admin);
  ASSERT_EQ(versions.status, 200u) << versions.body;
  auto list = versions.json().at("versions").as_array();
  ASSERT_EQ(list.size(), 1u);
  const std::string version(list[0].at("version").as_string());
  EXPECT_EQ(call(verb::get, "/api/v1/projects/shop/versions/" + version, admin).status, 200u);

  // A manual deploy of that version, reported successful.
  json::object deploy;
  pos = command(verb::post, "/api/v1/projects/shop/environments/staging/deploy", admin,
                "{\"version\":\"" + version + "\"}", &deploy);
  ASSERT_TRUE(deploy.contains("deploy_id")) << json::serialize(deploy);
  const std::string deploy_id(deploy.at("deploy_id").as_string());
  engine::RecordDeployResult result;
  result.project_id = "shop";
  result.environment = "staging";
  result.deploy_id = deploy_id;
  result.attempt = 1;
  result.succeeded = true;
  result.url = "http://127.0.0.1:9100";
  auto deployed =
      h.services().commands->execute(result, h.services().commands->system_context("d-1"));
  ASSERT_TRUE(deployed) << deployed.error().message();

  auto env =
      call(verb::get,
           with_min("/api/v1/projects/shop/environments/staging", deployed->last_position), admin);
  ASSERT_EQ(env.status, 200u) << env.body;
  EXPECT_NE(env.body.find(version), std::string::npos);
  // Time travel: before the deploy nothing served.
  auto before = call(
      verb::get, "/api/v1/projects/shop/environments/staging?at=" + std::to_string(pos - 1), admin);
  EXPECT_EQ(before.body.find("sha256:aaa"), std::string::npos) << before.body;
  auto history = call(verb::get, "/api/v1/projects/shop/environments/staging/history", admin);
  ASSERT_EQ(history.status, 200u);
  EXPECT_FALSE(history.json().at("events").as_array().empty());
  // A page of one: the newest line, and where the next (older) page starts.
  auto newest =
      call(verb::get, "/api/v1/projects/shop/environments/staging/history?limit=1", admin);
  ASSERT_EQ(newest.status, 200u);
  const json::value whole = history.json(), page = newest.json();
  const auto& all_lines = whole.at("events").as_array();
  ASSERT_EQ(page.at("events").as_array().size(), 1u);
  EXPECT_EQ(page.at("events").as_array()[0], all_lines.back());
  if (all_lines.size() > 1) {
    EXPECT_EQ(page.at("next_before"), all_lines.back().at("position"));
  }
  EXPECT_EQ(
      call(verb::get, "/api/v1/projects/shop/environments/staging/history?limit=0", admin).status,
      400u);
  EXPECT_EQ(call(verb::get, "/api/v1/projects/shop/environments", admin).status, 200u);

  // Roll back to that version: a new deploy replaying its recorded spec.
  json::object rolled;
  command(verb::post, "/api/v1/projects/shop/environments/staging/rollback", admin,
          "{\"target_version\":\"" + version + "\",\"reason\":\"drill\"}", &rolled);
  EXPECT_TRUE(rolled.contains("rollback_id")) << json::serialize(rolled);
  auto both = call(verb::post, "/api/v1/projects/shop/environments/staging/rollback", admin,
                   R"({"target_version":"a","target_deploy_event_id":"b"})");
  EXPECT_EQ(both.status, 400u);

  // The first run is over: cancelling it is refused; a second one cancels.
  auto late = call(verb::post, "/api/v1/projects/shop/runs/" + run + "/cancel", admin, "{}");
  EXPECT_EQ(late.status, 409u);
  EXPECT_EQ(late.error_code(), "rejected");
  json::object second;
  command(verb::post, "/api/v1/projects/shop/runs", admin, R"({"commit_sha":"beef002"})", &second);
  const std::string run2(second.at("run_id").as_string());
  pos = command(verb::post, "/api/v1/projects/shop/runs/" + run2 + "/cancel", admin,
                R"({"reason":"superseded"})");
  auto cancelled =
      call(verb::get, with_min("/api/v1/projects/shop/runs/" + run2, pos), admin).json();
  EXPECT_EQ(cancelled.at("status").as_string(), "RUN_STATUS_CANCELLED");
  EXPECT_EQ(cancelled.at("cancelled_by").as_string(), "admin");
}

TEST_F(ResourcesTest, RunOfAnotherProjectIsNotReachable) {
  const std::string admin = h.admin_token();
  create_shop(admin);
  command(verb::post, "/api/v1/projects", admin, R"({"project_id":"other"})");
  json::object started;
  const uint64_t pos =
      command(verb::post, "/api/v1/projects/shop/runs", admin, R"({"commit_sha":"abc"})", &started);
  const std::string run(started.at("run_id").as_string());
  auto r = call(verb::get, with_min("/api/v1/projects/other/runs/" + run, pos), admin);
  EXPECT_EQ(r.status, 404u);
}

TEST_F(ResourcesTest, StepLogsByByteOffset) {
  const std::string admin = h.admin_token();
  create_shop(admin);
  json::object started;
  const uint64_t pos =
      command(verb::post, "/api/v1/projects/shop/runs", admin, R"({"commit_sha":"abc"})", &started);
  const std::string run(started.at("run_id").as_string());
  local::DataLayout layout(h.dir());
  std::filesystem::create_directories(layout.run_log_dir(run));
  std::ofstream(layout.build_log(run, 1)) << "hello\nworld\n";

  auto list = call(verb::get, with_min("/api/v1/projects/shop/runs/" + run + "/logs", pos), admin);
  ASSERT_EQ(list.status, 200u) << list.body;
  EXPECT_EQ(list.json().at("logs").as_array().at(0).at("step").as_string(), "build-1");
  auto first =
      call(verb::get, "/api/v1/projects/shop/runs/" + run + "/logs/build-1?max_bytes=6", admin);
  ASSERT_EQ(first.status, 200u);
  EXPECT_EQ(first.body, "hello\n");
  EXPECT_EQ(first.headers["X-Next-Offset"], "6");
  EXPECT_EQ(first.headers["X-More-Data"], "true");
  auto rest =
      call(verb::get, "/api/v1/projects/shop/runs/" + run + "/logs/build-1?offset=6", admin);
  EXPECT_EQ(rest.body, "world\n");
  EXPECT_EQ(call(verb::get, "/api/v1/projects/shop/runs/" + run + "/logs/..%2Fetc", admin).status,
            400u);
  EXPECT_EQ(call(verb::get, "/api/v1/projects/shop/runs/" + run + "/logs/nope", admin).status,
            404u);
}

TEST_F(ResourcesTest, AuditFiltersAndTimeTravel) {
  const std::string admin = h.admin_token();
  const std::string alice = h.token_for("alice");
  const uint64_t created = create_shop(alice);
  command(verb::put, "/api/v1/projects/shop/environments/prod", alice, R"({"target":"local"})");
  auto all =
      call(verb::get, with_min("/api/v1/audit?project=shop&order=oldest", created + 1), alice);
  ASSERT_EQ(all.status, 200u) << all.body;
  auto entries = all.json().at("entries").as_array();
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[0].at("type").as_string(), "ProjectCreated");
  EXPECT_EQ(entries[0].at("actor").as_string(), "alice");
  EXPECT_EQ(entries[0].at("channel").as_string(), "CHANNEL_API");
  auto then =
      call(verb::get, "/api/v1/audit?project=shop&at=" + std::to_string(created), alice).json();
  for (const auto& e : then.at("entries").as_array()) {
    EXPECT_LE(std::stoull(std::string(e.at("position").as_string())), created);
  }
  EXPECT_EQ(call(verb::get, "/api/v1/audit", alice).status, 403u);  // global audit: admins
  EXPECT_EQ(call(verb::get, "/api/v1/audit?order=sideways", admin).error_code(), "invalid_enum");
  EXPECT_EQ(call(verb::get, "/api/v1/audit?from_time=yesterday", admin).error_code(), "wrong_type");
}

}  // namespace
}  // namespace wharf::api::testing
