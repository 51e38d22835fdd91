// GET /api/v1/insights and /api/v1/landscape over a real server, scoped to
// the projects the caller may see, and the same figures from `wharf insights
// --file` (an audit export, offline) and `wharf insights --json` through the
// API: the three paths print the same JSON.
#include <gtest/gtest.h>

#include "events/export.h"
#include "projections/time_format.h"
#include "tests/api/api_test_support.h"
#include "tests/cli_process.h"

namespace wharf::api::testing {
namespace {

constexpr int64_t kSecond = 1'000'000;

class InsightsApi : public ::testing::Test {
 protected:
  void SetUp() override {
    t0_ = *projections::parse_rfc3339("2026-02-02T00:00:00Z");
    h_.create_project("shop", "olive");
    h_.create_project("secret", "root");
    olive_ = h_.token_for("olive");
    // shop/prod: v0 deployed, v1 deployed 1000 s after its commit, rolled back
    // 1000 s later (a failure), the rollback to v0 succeeds 100 s after that
    // (no health checks here: a successful deploy restores).
    commit("shop", "r0", -5000);
    version("shop", "r0", "v0", -4900);
    deploy("shop", "prod", "d0", "v0", -4100);
    commit("shop", "r1", 0);
    version("shop", "r1", "v1", 100);
    d1_ = deploy("shop", "prod", "d1", "v1", 1000);
    wharf::v1::Payload rb;
    auto* r = rb.mutable_rollback_requested();
    r->set_rollback_id("rb1");
    r->set_project_id("shop");
    r->set_environment("prod");
    r->set_target_version("v0");
    r->set_reason("5xx");
    rollback_ = at(2000, "env-shop-prod", rb);
    deploy("shop", "prod", "d2", "v0", 2100, "rb1");
    // A project olive may not see.
    commit("secret", "s1", 0);
    version("secret", "s1", "x1", 10);
    last_ = deploy("secret", "prod", "s-d1", "x1", 20);
  }

  uint64_t at(int64_t s, const std::string& stream, const wharf::v1::Payload& payload) {
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    e.set_occurred_at_us(t0_ + s * kSecond);
    e.mutable_actor()->set_id("test");
    *e.mutable_payload() = payload;
    auto appended = h_.store().append(stream, events::ExpectedVersion::any(), {e});
    EXPECT_TRUE(appended);
    return appended ? appended->last_position : 0;
  }
  void commit(const std::string& project, const std::string& run, int64_t s) {
    wharf::v1::Payload p;
    p.mutable_commit_observed()->set_project_id(project);
    p.mutable_commit_observed()->set_run_id(run);
    p.mutable_commit_observed()->set_commit_sha("sha-" + run);
    at(s, "run-" + run, p);
  }
  void version(const std::string& project, const std::string& run, const std::string& v,
               int64_t s) {
    wharf::v1::Payload p;
    p.mutable_version_recorded()->set_project_id(project);
    p.mutable_version_recorded()->set_run_id(run);
    p.mutable_version_recorded()->set_version(v);
    at(s, "run-" + run, p);
  }
  uint64_t deploy(const std::string& project, const std::string& env, const std::string& id,
                  const std::string& v, int64_t s, const std::string& rollback_id = "") {
    const std::string stream = "env-" + project + "-" + env;
    wharf::v1::Payload req;
    auto* q = req.mutable_deploy_requested();
    q->set_deploy_id(id);
    q->set_project_id(project);
    q->set_environment(env);
    q->set_attempt(1);
    q->mutable_spec()->set_version(v);
    q->set_rollback_id(rollback_id);
    q->set_requested_by("olive");
    at(s - 10, stream, req);
    wharf::v1::Payload ok;
    auto* d = ok.mutable_deploy_succeeded();
    d->set_deploy_id(id);
    d->set_project_id(project);
    d->set_environment(env);
    d->set_attempt(1);
    d->mutable_spec()->set_version(v);
    d->set_rollback_id(rollback_id);
    return at(s, stream, ok);
  }
  std::string range() const { return "from=2026-02-01T00:00:00Z&to=2026-02-09T00:00:00Z"; }

  ApiHarness h_;
  int64_t t0_ = 0;
  std::string olive_;
  uint64_t d1_ = 0, rollback_ = 0, last_ = 0;
};

TEST_F(InsightsApi, FiguresForWhatTheCallerMaySee) {
  const std::string wait = "&min_position=" + std::to_string(last_);
  auto r = h_.get(
      "/api/v1/insights?project=shop&environment=prod&bucket=week&detail=true&" + range() + wait,
      olive_);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto total = r.json().at("total");
  EXPECT_EQ(total.at("deployments").to_number<int>(), 2);  // d0, d1 (d2 is a rollback)
  EXPECT_EQ(total.at("rollbacks").to_number<int>(), 1);
  EXPECT_EQ(total.at("failed_deployments").to_number<int>(), 1);
  EXPECT_DOUBLE_EQ(total.at("change_failure_rate").to_number<double>(), 0.5);
  EXPECT_DOUBLE_EQ(total.at("lead_time_median_s").to_number<double>(), 900);  // d0: 900 s
  EXPECT_DOUBLE_EQ(total.at("lead_time_p90_s").to_number<double>(), 1000);    // d1
  EXPECT_DOUBLE_EQ(total.at("time_to_restore_median_s").to_number<double>(), 100);
  EXPECT_EQ(total.at("failed_positions").as_array().at(0), json::value(std::to_string(d1_)));
  auto buckets = r.json().at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 2u);  // the weeks of Jan 26 and Feb 2
  EXPECT_EQ(buckets[1].at("start").as_string(), "2026-02-02T00:00:00.000000Z");
  EXPECT_EQ(buckets[0].at("figures").at("deployments").to_number<int>(), 1);  // d0, Feb 1
  EXPECT_EQ(buckets[1].at("figures").at("deployments").to_number<int>(), 1);

  // Across projects: only shop counts for olive; everything for the admin.
  auto all = h_.get("/api/v1/insights?bucket=none&" + range() + wait, olive_);
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(all.json().at("total").at("deployments").to_number<int>(), 2);
  auto admin = h_.get("/api/v1/insights?bucket=none&" + range() + wait, h_.admin_token());
  EXPECT_EQ(admin.json().at("total").at("deployments").to_number<int>(), 3);

  EXPECT_EQ(h_.get("/api/v1/insights?project=secret&" + range(), olive_).status, 403u);
  EXPECT_EQ(h_.get("/api/v1/insights?bucket=year&" + range(), olive_).status, 400u);
  EXPECT_EQ(
      h_.get("/api/v1/insights?from=2026-02-09T00:00:00Z&to=2026-02-01T00:00:00Z", olive_).status,
      400u);
  EXPECT_EQ(h_.get("/api/v1/insights?" + range()).status, 401u);

  // The landscape before and after the rollback (time travel by position).
  auto land = h_.get("/api/v1/landscape?min_position=" + std::to_string(last_), olive_);
  ASSERT_EQ(land.status, 200u) << land.body;
  auto projects = land.json().at("projects").as_array();
  ASSERT_EQ(projects.size(), 1u);
  auto prod = projects[0].at("environments").as_array().at(0);
  EXPECT_EQ(prod.at("version").as_string(), "v0");
  EXPECT_TRUE(prod.at("rollback").as_bool());
  auto before = h_.get("/api/v1/landscape?at=" + std::to_string(rollback_), olive_);
  EXPECT_EQ(
      before.json().at("projects").as_array()[0].at("environments").as_array()[0].at("version"),
      "v1");
}

TEST_F(InsightsApi, CliThroughTheApiAndOfflineFromAnExportAgree) {
  const std::string query = "/api/v1/insights?bucket=week&detail=true&" + range() +
                            "&min_position=" + std::to_string(last_);
  auto api = h_.get(query, h_.admin_token());
  ASSERT_EQ(api.status, 200u);

  const auto file = h_.dir() / "all.wexp";
  ASSERT_TRUE(events::export_events(h_.store(), file.string()));
  wharf::testing::CliRunner cli(h_.dir());
  const std::string args =
      " --bucket week --detail --from 2026-02-01T00:00:00Z --to "
      "2026-02-09T00:00:00Z --json";
  auto offline = cli.run("insights --file '" + file.string() + "'" + args);
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(json::parse(offline.out), api.json());

  auto online = cli.run("insights --server http://127.0.0.1:" + std::to_string(h_.port()) +
                        " --token " + h_.admin_token() + args);
  ASSERT_EQ(online.exit_code, 0) << online.err;
  EXPECT_EQ(json::parse(online.out), api.json());

  auto text = cli.run("insights --file '" + file.string() +
                      "' --project shop --from 2026-02-01T00:00:00Z --to 2026-02-09T00:00:00Z");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("CFR 50.0% (1/2)"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace wharf::api::testing
