// The insights projection and its arithmetic on a hand-built history with
// known answers, asserted to the microsecond: lead times, change failures
// (a failure exactly on the 24 h window boundary counts, one second past it
// does not), time to restore (a rollback to a version never healthy does not
// restore; its first healthy verdict does), overlapping canaries, a deploy
// to an environment the project does not define, range boundaries, weekly
// buckets, time travel, and an export replayed offline answering the same.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "events/export.h"
#include "projections/audit_tools.h"
#include "projections/insights_math.h"
#include "projections/insights_queries.h"
#include "projections/keys.h"
#include "projections/queries.h"
#include "projections/runner.h"
#include "projections/state_batch.h"
#include "projections/time_format.h"
#include "tests/projections/history.h"

namespace wharf::projections {
namespace {

using namespace testing;
namespace views = wharf::views::v1;  // insights.pb.h
using insights::kSecondUs;

constexpr int64_t kWeek = 7 * 86400;  // seconds

Payload health(const std::string& env, const std::string& deploy, const std::string& version,
               wharf::v1::HealthState to) {
  Payload p;
  auto* h = p.mutable_health_changed();
  h->set_project_id("shop");
  h->set_environment(env);
  h->set_deploy_id(deploy);
  h->set_version(version);
  h->set_to(to);
  h->set_detail(to == wharf::v1::HEALTH_STATE_HEALTHY ? "HTTP 200" : "HTTP 503");
  return p;
}

Payload canary_started(const std::string& env, const std::string& canary, const std::string& deploy,
                       const std::string& version, const std::string& stable) {
  Payload p;
  auto* c = p.mutable_canary_started();
  c->set_canary_id(canary);
  c->set_project_id("shop");
  c->set_environment(env);
  c->set_deploy_id(deploy);
  c->set_attempt(1);
  c->set_version(version);
  c->set_stable_version(stable);
  return p;
}

Payload canary_step(const std::string& env, const std::string& canary, uint32_t step,
                    uint32_t weight) {
  Payload p;
  auto* c = p.mutable_canary_step_reached();
  c->set_canary_id(canary);
  c->set_project_id("shop");
  c->set_environment(env);
  c->set_step(step);
  c->set_weight(weight);
  return p;
}

Payload canary_promoted(const std::string& env, const std::string& canary) {
  Payload p;
  auto* c = p.mutable_canary_promoted();
  c->set_canary_id(canary);
  c->set_project_id("shop");
  c->set_environment(env);
  return p;
}

Payload canary_aborted(const std::string& env, const std::string& canary) {
  Payload p;
  auto* c = p.mutable_canary_aborted();
  c->set_canary_id(canary);
  c->set_project_id("shop");
  c->set_environment(env);
  c->set_reason("error rate 12% > 5%");
  return p;
}

// The history, with the position of every event the assertions name.
struct Shop {
  TempDir dir;
  std::unique_ptr<events::EventStore> store;
  int64_t t0 = *parse_rfc3339("2026-01-05T00:00:00Z");  // a Monday
  std::map<std::string, uint64_t> pos;

  int64_t us(int64_t s) const { return t0 + s * kSecondUs; }

  void build() {
    store = open_store(dir.path("log"));
    ASSERT_TRUE(store);
    History h(*store);
    auto at = [&](int64_t s, const std::string& stream, Payload p, const std::string& name = "") {
      h.set_clock(us(s));
      uint64_t position = h.add(stream, std::move(p));
      if (!name.empty()) pos[name] = position;
    };
    auto commit = [&](int64_t s, const std::string& run, const std::string& sha) {
      at(s, "run-" + run, commit_observed("shop", run, sha, "ann"), "commit-" + run);
    };
    auto version = [&](int64_t s, const std::string& run, const std::string& v) {
      at(s, "run-" + run, version_recorded("shop", run, v, "sha-" + run, "ann"));
    };
    auto deploy = [&](int64_t requested, int64_t succeeded, const std::string& env,
                      const std::string& d, const std::string& v, const std::string& by,
                      const std::string& rollback_id = "", bool canary = false) {
      const std::string stream = "env-shop-" + env;
      at(requested, stream, deploy_requested("shop", env, d, "", v, by, rollback_id));
      Payload ok = deploy_succeeded("shop", env, d, "", v, rollback_id);
      if (canary) ok.mutable_deploy_succeeded()->mutable_spec()->mutable_canary()->add_steps();
      at(succeeded, stream, std::move(ok), d);
    };
    at(-1000, "project-shop", project_created("shop", {"staging", "prod"}, "olive"));

    // Week 1.
    commit(0, "r1", "sha-r1");
    version(100, "r1", "v1");
    deploy(200, 300, "staging", "d1", "v1", "ci");
    deploy(350, 400, "qa", "d10", "v1", "ci");  // qa: not an environment of the project
    deploy(1000, 1100, "prod", "d2", "v1", "alice");
    at(1200, "env-shop-prod", health("prod", "d2", "v1", wharf::v1::HEALTH_STATE_HEALTHY));
    commit(2000, "r2", "sha-r2");
    version(2100, "r2", "v2");
    deploy(2400, 2500, "staging", "d4", "v2", "ci");
    deploy(4900, 5000, "prod", "d3", "v2", "alice");
    // One second past staging's window: no failure.
    at(2500 + 86401, "env-shop-staging",
       rollback_requested("shop", "staging", "rb0", "", "v1", "late", "carol"), "late-rollback");
    // Exactly 24 h after d3: counts.
    at(5000 + 86400, "env-shop-prod", health("prod", "d3", "v2", wharf::v1::HEALTH_STATE_UNHEALTHY),
       "d3-unhealthy");
    at(5000 + 86400 + 600, "env-shop-prod",
       health("prod", "d3", "v2", wharf::v1::HEALTH_STATE_HEALTHY), "d3-healthy");

    // Week 2.
    const int64_t w = kWeek;
    commit(w + 140000, "r2b", "sha-r2b");
    version(w + 140100, "r2b", "v2b");
    deploy(w + 149000, w + 150000, "prod", "d4p", "v2b", "alice");  // never probed
    commit(w + 200000, "r3", "sha-r3");
    version(w + 200100, "r3", "v3");
    deploy(w + 200400, w + 200500, "prod", "d5", "v3", "alice");
    at(w + 200800, "env-shop-prod",
       rollback_requested("shop", "prod", "rb1", "", "v2b", "checkout broken", "bob"), "rb1");
    // The rollback goes to v2b, never healthy here: not restored by its deploy...
    deploy(w + 200850, w + 200900, "prod", "d6", "v2b", "bob", "rb1");
    // ... an unhealthy rollback deploy is no new change failure ...
    at(w + 200950, "env-shop-prod", health("prod", "d6", "v2b", wharf::v1::HEALTH_STATE_UNHEALTHY));
    // ... its first healthy verdict restores.
    at(w + 201000, "env-shop-prod", health("prod", "d6", "v2b", wharf::v1::HEALTH_STATE_HEALTHY),
       "d6-healthy");
    commit(w + 300000, "r4", "sha-r4");
    commit(w + 300050, "r5", "sha-r5");
    version(w + 300060, "r5", "v5");
    version(w + 300100, "r4", "v4");
    // Overlapping canaries in staging: B starts before A ends; A is aborted, B promoted.
    deploy(w + 300150, w + 300200, "staging", "d8", "v4", "ci", "", true);
    at(w + 300200, "env-shop-staging", canary_started("staging", "cA", "d8", "v4", "v2"));
    deploy(w + 300250, w + 300300, "staging", "d9", "v5", "ci", "", true);
    at(w + 300300, "env-shop-staging", canary_started("staging", "cB", "d9", "v5", "v2"));
    at(w + 300400, "env-shop-staging", canary_aborted("staging", "cA"), "cA-aborted");
    at(w + 300450, "env-shop-staging", canary_promoted("staging", "cB"));
    // A canary in prod, aborted: prod goes back to its stable deploy (d6, healthy).
    deploy(w + 300450, w + 300500, "prod", "d7", "v4", "alice", "", true);
    at(w + 300500, "env-shop-prod", canary_started("prod", "c7", "d7", "v4", "v2b"));
    at(w + 300600, "env-shop-prod", canary_step("prod", "c7", 1, 20), "c7-step");
    at(w + 300700, "env-shop-prod", canary_aborted("prod", "c7"), "c7-aborted");
  }
};

class InsightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shop_.build();
    auto r = ProjectionRunner::open(shop_.dir.path("proj"), shop_.store.get());
    ASSERT_TRUE(r);
    runner_ = std::move(*r);
    ASSERT_TRUE(runner_->catch_up());
  }

  views::InsightsReport report(const std::string& project, const std::string& env, int64_t from_s,
                               int64_t to_s, QueryOptions o = {},
                               insights::Bucket bucket = insights::Bucket::kWeek) {
    InsightsFilter f;
    f.project = project;
    f.environment = env;
    f.from_us = shop_.us(from_s);
    f.to_us = shop_.us(to_s);
    f.bucket = bucket;
    f.detail = true;
    const Queries queries(*runner_);
    auto answer = InsightsQueries(queries).insights(f, o);
    EXPECT_TRUE(answer) << (answer ? "" : answer.error().message);
    return answer ? *answer : views::InsightsReport{};
  }
  const views::DeploymentFact* fact(const views::InsightsReport& r, const std::string& deploy) {
    for (const auto& f : r.deployments()) {
      if (f.deploy_id() == deploy) return &f;
    }
    ADD_FAILURE() << "no fact for " << deploy;
    return nullptr;
  }

  Shop shop_;
  std::unique_ptr<ProjectionRunner> runner_;
};

constexpr int64_t kFourWeeks = 4 * kWeek;

TEST_F(InsightsTest, ProdFiguresToTheSecond) {
  auto r = report("shop", "prod", 0, kFourWeeks);
  const auto& t = r.total();
  EXPECT_EQ(t.deployments(), 5u);  // d2, d3, d4p, d5, d7
  EXPECT_EQ(t.rollbacks(), 1u);    // d6
  EXPECT_DOUBLE_EQ(t.deployments_per_day(), 5.0 / 28.0);
  // Lead times 500 (d5), 500 (d7), 1100 (d2), 3000 (d3), 10000 (d4p): nearest rank.
  EXPECT_EQ(t.lead_time_samples(), 5u);
  EXPECT_DOUBLE_EQ(t.lead_time_median_s(), 1100);
  EXPECT_EQ(t.lead_time_median_position(), shop_.pos["d2"]);
  EXPECT_DOUBLE_EQ(t.lead_time_p90_s(), 10000);
  EXPECT_EQ(t.lead_time_p90_position(), shop_.pos["d4p"]);
  // d3 (unhealthy exactly 24 h later), d5 (rolled back), d7 (canary aborted).
  EXPECT_EQ(t.failed_deployments(), 3u);
  EXPECT_DOUBLE_EQ(t.change_failure_rate(), 0.6);
  EXPECT_EQ(std::vector<uint64_t>(t.failed_positions().begin(), t.failed_positions().end()),
            (std::vector<uint64_t>{shop_.pos["d3"], shop_.pos["d5"], shop_.pos["d7"]}));
  // Restores: d7 0 s (back to healthy stable), d5 200 s (at d6's first healthy
  // verdict, not at the rollback deploy), d3 600 s.
  EXPECT_EQ(t.restores(), 3u);
  EXPECT_EQ(t.unrestored(), 0u);
  EXPECT_DOUBLE_EQ(t.time_to_restore_median_s(), 200);
  EXPECT_EQ(t.time_to_restore_median_position(), shop_.pos["d5"]);
  EXPECT_DOUBLE_EQ(t.time_to_restore_p90_s(), 600);
  EXPECT_EQ(t.time_to_restore_p90_position(), shop_.pos["d3"]);

  const auto* d3 = fact(r, "d3");
  ASSERT_NE(d3, nullptr);
  EXPECT_EQ(d3->failure().kind(), "health_unhealthy");
  EXPECT_EQ(d3->failure().position(), shop_.pos["d3-unhealthy"]);
  EXPECT_EQ(d3->restore().position(), shop_.pos["d3-healthy"]);
  EXPECT_EQ(d3->commit_position(), shop_.pos["commit-r2"]);
  const auto* d5 = fact(r, "d5");
  ASSERT_NE(d5, nullptr);
  EXPECT_EQ(d5->failure().kind(), "rollback_requested");
  EXPECT_EQ(d5->failure().position(), shop_.pos["rb1"]);
  EXPECT_EQ(d5->restore().kind(), "health_healthy");
  EXPECT_EQ(d5->restore().position(), shop_.pos["d6-healthy"]);
  const auto* d6 = fact(r, "d6");
  ASSERT_NE(d6, nullptr);
  EXPECT_TRUE(d6->rollback());
  EXPECT_EQ(d6->deployed_by(), "bob");
  EXPECT_EQ(d6->failure().position(), 0u);
  const auto* d7 = fact(r, "d7");
  ASSERT_NE(d7, nullptr);
  EXPECT_EQ(d7->failure().kind(), "canary_aborted");
  EXPECT_EQ(d7->restore().kind(), "canary_aborted_to_stable");
  EXPECT_EQ(d7->restore().at_us(), d7->failure().at_us());

  // Weekly buckets: week 1 holds d2, d3 (d3 failed); week 2 d4p, d5, d7.
  ASSERT_EQ(r.buckets_size(), 4);
  EXPECT_EQ(r.buckets(0).start_us(), shop_.t0);
  EXPECT_EQ(r.buckets(0).figures().deployments(), 2u);
  EXPECT_EQ(r.buckets(0).figures().failed_deployments(), 1u);
  EXPECT_EQ(r.buckets(1).start_us(), shop_.us(kWeek));
  EXPECT_EQ(r.buckets(1).figures().deployments(), 3u);
  EXPECT_EQ(r.buckets(1).figures().failed_deployments(), 2u);
  EXPECT_EQ(r.buckets(2).figures().deployments(), 0u);
}

TEST_F(InsightsTest, StagingWindowBoundaryAndOverlappingCanaries) {
  auto r = report("shop", "staging", 0, kFourWeeks);
  const auto& t = r.total();
  EXPECT_EQ(t.deployments(), 4u);  // d1, d4, d8, d9
  // d4's rollback request came 24 h + 1 s later: not a failure. d8 (canary A,
  // aborted while B, started later, served) is.
  EXPECT_EQ(t.failed_deployments(), 1u);
  EXPECT_DOUBLE_EQ(t.change_failure_rate(), 0.25);
  // Leads 200 (d8), 250 (d9), 300 (d1), 500 (d4).
  EXPECT_DOUBLE_EQ(t.lead_time_median_s(), 250);
  EXPECT_DOUBLE_EQ(t.lead_time_p90_s(), 500);
  const auto* d8 = fact(r, "d8");
  ASSERT_NE(d8, nullptr);
  EXPECT_EQ(d8->failure().position(), shop_.pos["cA-aborted"]);
  // Staging has no health checks; canary B serves: restored at the abort.
  EXPECT_EQ(d8->restore().position(), shop_.pos["cA-aborted"]);
  EXPECT_DOUBLE_EQ(t.time_to_restore_median_s(), 0);
  const auto* d4 = fact(r, "d4");
  ASSERT_NE(d4, nullptr);
  EXPECT_EQ(d4->failure().position(), 0u);
}

TEST_F(InsightsTest, AllProjectsAndUndefinedEnvironment) {
  auto r = report("", "", 0, kFourWeeks);
  const auto& t = r.total();
  EXPECT_EQ(t.deployments(), 10u);  // 5 prod, 4 staging, 1 qa
  EXPECT_EQ(t.failed_deployments(), 4u);
  EXPECT_DOUBLE_EQ(t.change_failure_rate(), 0.4);
  // Leads 200 250 300 400 500(d4) 500(d5) 500(d7) 1100 3000 10000.
  EXPECT_DOUBLE_EQ(t.lead_time_median_s(), 500);
  EXPECT_EQ(t.lead_time_median_position(), shop_.pos["d4"]);
  EXPECT_DOUBLE_EQ(t.lead_time_p90_s(), 3000);
  ASSERT_EQ(r.groups_size(), 3);
  EXPECT_EQ(r.groups(1).environment(), "qa");
  EXPECT_EQ(r.groups(1).figures().deployments(), 1u);
  EXPECT_DOUBLE_EQ(r.groups(1).figures().lead_time_median_s(), 400);
  // The same through the per-project path.
  auto one = report("shop", "", 0, kFourWeeks);
  EXPECT_EQ(serialize(one.total()), serialize(t));
}

TEST_F(InsightsTest, RangeIsHalfOpen) {
  // [d2's time, d3's time): d2 in, d3 out.
  auto r = report("shop", "prod", 1100, 5000, {}, insights::Bucket::kNone);
  EXPECT_EQ(r.total().deployments(), 1u);
  ASSERT_EQ(r.deployments_size(), 1);
  EXPECT_EQ(r.deployments(0).deploy_id(), "d2");
  EXPECT_EQ(r.buckets_size(), 0);
  EXPECT_EQ(report("shop", "prod", 1100, 5001, {}).total().deployments(), 2u);
}

TEST_F(InsightsTest, TimeTravelLeavesOutLaterFailuresAndRestores) {
  QueryOptions before;
  before.at_position = shop_.pos["rb1"] - 1;
  auto r = report("shop", "prod", 0, kFourWeeks, before);
  const auto* d5 = fact(r, "d5");
  ASSERT_NE(d5, nullptr);
  EXPECT_EQ(d5->failure().position(), 0u);
  EXPECT_EQ(r.total().deployments(), 4u);

  QueryOptions at_rollback;
  at_rollback.at_position = shop_.pos["rb1"];
  r = report("shop", "prod", 0, kFourWeeks, at_rollback);
  d5 = fact(r, "d5");
  ASSERT_NE(d5, nullptr);
  EXPECT_EQ(d5->failure().position(), shop_.pos["rb1"]);
  EXPECT_EQ(d5->restore().position(), 0u);
  EXPECT_EQ(r.total().unrestored(), 1u);
}

TEST_F(InsightsTest, Landscape) {
  const Queries queries(*runner_);
  InsightsQueries q(queries);
  auto now = q.landscape({}, {});
  ASSERT_TRUE(now);
  ASSERT_EQ(now->projects_size(), 1);
  const auto& shop = now->projects(0);
  ASSERT_EQ(shop.environments_size(), 3);
  const auto& staging = shop.environments(0);
  const auto& prod = shop.environments(1);
  const auto& qa = shop.environments(2);
  EXPECT_EQ(staging.environment(), "staging");
  EXPECT_EQ(staging.version(), "v5");  // canary B, promoted
  EXPECT_FALSE(staging.has_canary());
  EXPECT_EQ(staging.next_environment(), "prod");
  EXPECT_EQ(staging.ahead_of_next(), 2);  // v5 is the 5th version, v2b the 3rd
  // Prod: the aborted canary does not serve; the stable rollback deploy does.
  EXPECT_EQ(prod.version(), "v2b");
  EXPECT_EQ(prod.deploy_id(), "d6");
  EXPECT_TRUE(prod.rollback());
  EXPECT_EQ(prod.deployed_by(), "bob");
  EXPECT_EQ(prod.since_us(), shop_.us(kWeek + 200900));
  EXPECT_EQ(prod.health(), wharf::v1::HEALTH_STATE_HEALTHY);
  EXPECT_FALSE(prod.has_canary());
  EXPECT_EQ(prod.updated_position(), shop_.pos["c7-aborted"]);
  EXPECT_TRUE(prod.defined());
  EXPECT_EQ(qa.environment(), "qa");
  EXPECT_FALSE(qa.defined());
  EXPECT_EQ(qa.version(), "v1");

  QueryOptions mid_canary;
  mid_canary.at_position = shop_.pos["c7-step"];
  auto then = q.landscape({}, mid_canary);
  ASSERT_TRUE(then);
  const auto& prod_then = then->projects(0).environments(1);
  EXPECT_EQ(prod_then.version(), "v4");
  EXPECT_EQ(prod_then.canary().weight(), 20u);
  EXPECT_EQ(prod_then.canary().stable_version(), "v2b");

  LandscapeFilter only_prod;
  only_prod.environment = "prod";
  only_prod.project = "SHO";  // case-insensitive, name or id
  auto filtered = q.landscape(only_prod, {});
  ASSERT_TRUE(filtered);
  ASSERT_EQ(filtered->projects_size(), 1);
  ASSERT_EQ(filtered->projects(0).environments_size(), 1);
  EXPECT_EQ(filtered->projects(0).environments(0).environment(), "prod");
  only_prod.project = "nope";
  EXPECT_EQ(q.landscape(only_prod, {})->projects_size(), 0);
  LandscapeFilter hidden;
  hidden.visible = [](const std::string&) { return false; };
  EXPECT_EQ(q.landscape(hidden, {})->projects_size(), 0);
}

TEST_F(InsightsTest, ExportReplayedOfflineAnswersTheSame) {
  const std::string file = shop_.dir.path("shop.wexp");
  ASSERT_TRUE(events::export_events(*shop_.store, file));
  auto scratch = ProjectionRunner::open(shop_.dir.path("scratch"), nullptr);
  ASSERT_TRUE(scratch);
  ASSERT_TRUE(replay_export(file, **scratch));
  InsightsFilter f;
  f.from_us = shop_.us(0);
  f.to_us = shop_.us(kFourWeeks);
  f.detail = true;
  const Queries live_queries(*runner_), offline_queries(**scratch);
  InsightsQueries live_insights(live_queries), offline_insights(offline_queries);
  auto live = live_insights.insights(f, {});
  auto offline = offline_insights.insights(f, {});
  ASSERT_TRUE(live && offline);
  EXPECT_EQ(serialize(*live), serialize(*offline));
  EXPECT_EQ(serialize(*live_insights.landscape({}, {})),
            serialize(*offline_insights.landscape({}, {})));
}

// What the all-projects answer holds without `detail`: the same report as
// with it, less the lists only `detail` asks for.
views::InsightsReport without_detail(views::InsightsReport r) {
  r.clear_deployments();
  auto strip = [](views::InsightsFigures* f) {
    f->clear_deployment_positions();
    f->clear_failed_positions();
  };
  strip(r.mutable_total());
  for (auto& g : *r.mutable_groups()) strip(g.mutable_figures());
  for (auto& b : *r.mutable_buckets()) strip(b.mutable_figures());
  return r;
}

// Over all projects without `detail` the answer comes from the rollup (day
// chunks of compact rows and the failed deployments' outcomes), with it from
// every DeploymentFact: both agree at every position of the log, for ranges
// cut inside a day, per environment and with a visibility filter.
TEST_F(InsightsTest, RollupAnswersAsTheFactsAtEveryPosition) {
  const Queries queries(*runner_);
  const InsightsQueries q(queries);
  const uint64_t head = shop_.store->head_position();
  struct Range {
    int64_t from_s, to_s;
  };
  size_t compared = 0;
  for (uint64_t at = 1; at <= head; ++at) {
    for (const Range range : {Range{0, kFourWeeks}, Range{1100, 200600}, Range{4999, 300500}}) {
      for (const char* env : {"", "prod", "qa"}) {
        for (auto bucket : {insights::Bucket::kWeek, insights::Bucket::kDay}) {
          InsightsFilter f;
          f.environment = env;
          f.from_us = shop_.us(range.from_s);
          f.to_us = shop_.us(range.to_s);
          f.bucket = bucket;
          QueryOptions o;
          o.at_position = at;
          auto rolled = q.insights(f, o);
          f.detail = true;
          auto facts = q.insights(f, o);
          ASSERT_TRUE(rolled && facts);
          ASSERT_EQ(serialize(*rolled), serialize(without_detail(*facts)))
              << "at " << at << " env '" << env << "' from " << range.from_s;
          ++compared;
        }
      }
    }
  }
  EXPECT_GT(compared, 100u);
  InsightsFilter all;
  all.from_us = shop_.us(0);
  all.to_us = shop_.us(kFourWeeks);
  auto head_answer = q.insights(all, {});
  ASSERT_TRUE(head_answer);
  EXPECT_EQ(head_answer->total().deployments(), 10u);
  EXPECT_EQ(head_answer->total().failed_deployments(), 4u);
  all.visible = [](const std::string& project) { return project != "shop"; };
  EXPECT_EQ(q.insights(all, {})->total().deployments(), 0u);
}

// A data directory folded before the rollup existed (schema 1: no 'A', 'B',
// 'F' keys) or before the per-day aggregates (schema 2: no 'G', 'H', 'J',
// 'N') is refolded when opened, so the answers over all projects are right
// from the start. Deleting the aggregates shows the head answer reads them.
TEST_F(InsightsTest, StoreFoldedBeforeTheRollupOrAggregatesIsRefoldedOnOpen) {
  InsightsFilter all;
  all.from_us = shop_.us(0);
  all.to_us = shop_.us(kFourWeeks);
  struct Case {
    std::vector<const char*> tags;
    const char* schema;
  };
  for (const Case& c :
       {Case{{"G", "H", "J", "N"}, "2"}, Case{{"A", "B", "F", "G", "H", "J", "N"}, "1"}}) {
    auto& db = runner_->db();
    auto* cf = db.cf("insights");
    for (const char* tag : c.tags) {
      std::string end = tag;
      end[0] = static_cast<char>(end[0] + 1);
      ASSERT_TRUE(db.db()->DeleteRange(rocksdb::WriteOptions(), cf, tag, end).ok());
    }
    ASSERT_TRUE(db.db()
                    ->Put(rocksdb::WriteOptions(), cf,
                          rocksdb::Slice(keys::kSchema.data(), keys::kSchema.size()), c.schema)
                    .ok());
    {
      const Queries queries(*runner_);
      auto stale = InsightsQueries(queries).insights(all, {});
      ASSERT_TRUE(stale);
      // Only the partial first day (from 00:00 + 0 s is a full day: none) and
      // the rows of the last partial day remain: fewer than the 10.
      EXPECT_LT(stale->total().deployments(), 10u) << "schema " << c.schema;
      EXPECT_EQ(stale->groups_size(), 0) << "schema " << c.schema;
    }
    runner_.reset();
    auto reopened = ProjectionRunner::open(shop_.dir.path("proj"), shop_.store.get());
    ASSERT_TRUE(reopened);
    runner_ = std::move(*reopened);
    ASSERT_TRUE(runner_->catch_up());
    auto& db2 = runner_->db();
    std::string schema;
    ASSERT_TRUE(db2.db()
                    ->Get(rocksdb::ReadOptions(), db2.cf("insights"),
                          rocksdb::Slice(keys::kSchema.data(), keys::kSchema.size()), &schema)
                    .ok());
    EXPECT_EQ(schema, "3");
    const Queries queries(*runner_);
    auto answer = InsightsQueries(queries).insights(all, {});
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->total().deployments(), 10u);
    EXPECT_EQ(answer->groups_size(), 3);
    InsightsFilter detail = all;
    detail.detail = true;
    EXPECT_EQ(serialize(*answer),
              serialize(without_detail(*InsightsQueries(queries).insights(detail, {}))));
  }
}

// ---- A generated history: the per-day aggregates against the facts and
// against a computation straight from the events.

struct Generated {
  TempDir dir;
  std::unique_ptr<events::EventStore> store;
  std::vector<Envelope> events;  // as appended, with positions
  int64_t t0 = *parse_rfc3339("2026-03-01T00:00:00Z");

  void build(uint32_t seed, int changes) {
    store = open_store(dir.path("log"));
    ASSERT_TRUE(store);
    History h(*store);
    std::mt19937 rng(seed);
    auto pick = [&](uint32_t n) { return rng() % n; };
    int64_t t = t0 + 3600 * kSecondUs;
    auto at = [&](const std::string& stream, Payload p) {
      h.set_clock(t);
      h.add(stream, std::move(p));
    };
    const std::vector<std::string> projects = {"p0", "p1", "p2", "p3", "alpha"};
    for (const auto& p : projects) at("project-" + p, project_created(p, {"staging", "prod"}, "o"));
    std::map<std::string, std::vector<std::string>> versions;  // per project
    std::map<std::string, std::string> last_deploy;            // project/env -> deploy id
    std::map<std::string, std::string> canary_of;              // project/env -> open canary
    for (int n = 0; n < changes; ++n) {
      // Mostly minutes apart, sometimes hours, now and then exactly midnight.
      t += pick(10) == 0 ? 7 * 3600 * kSecondUs : (30 + pick(900)) * kSecondUs;
      if (pick(40) == 0) t = (t / insights::kDayUs + 1) * insights::kDayUs;
      const std::string p = projects[pick(static_cast<uint32_t>(projects.size()))];
      const std::string env = pick(10) == 0 ? "qa" : (pick(2) == 0 ? "staging" : "prod");
      const std::string key = p + "/" + env, stream = "env-" + p + "-" + env;
      const std::string id = std::to_string(n);
      switch (pick(7)) {
        case 0:
        case 1: {  // a change: commit, version
          at("run-" + p + id, commit_observed(p, "r" + id, "sha" + id, "ann"));
          t += (1 + pick(3000)) * kSecondUs;
          at("run-" + p + id, version_recorded(p, "r" + id, "v" + id, "sha" + id, "ann"));
          versions[p].push_back("v" + id);
          break;
        }
        case 2:
        case 3: {  // a deploy (sometimes a canary)
          const auto& vs = versions[p];
          const std::string v =
              vs.empty() ? "unrecorded" + id : vs[pick(static_cast<uint32_t>(vs.size()))];
          at(stream, deploy_requested(p, env, "d" + id, "", v, "ci"));
          t += (1 + pick(120)) * kSecondUs;
          Payload ok = deploy_succeeded(p, env, "d" + id, "", v);
          const bool canary = pick(4) == 0;
          if (canary) ok.mutable_deploy_succeeded()->mutable_spec()->mutable_canary()->add_steps();
          at(stream, std::move(ok));
          last_deploy[key] = "d" + id;
          if (canary) {
            Payload c;
            auto* s = c.mutable_canary_started();
            s->set_canary_id("c" + id);
            s->set_project_id(p);
            s->set_environment(env);
            s->set_deploy_id("d" + id);
            s->set_version(v);
            at(stream, std::move(c));
            canary_of[key] = "c" + id;
          }
          break;
        }
        case 4: {  // a health verdict on what was deployed last
          if (last_deploy.count(key) == 0) break;
          Payload hp;
          auto* hc = hp.mutable_health_changed();
          hc->set_project_id(p);
          hc->set_environment(env);
          hc->set_deploy_id(last_deploy[key]);
          hc->set_to(pick(2) == 0 ? wharf::v1::HEALTH_STATE_HEALTHY
                                  : wharf::v1::HEALTH_STATE_UNHEALTHY);
          at(stream, std::move(hp));
          break;
        }
        case 5: {  // a rollback (request + rollback deploy)
          const auto& vs = versions[p];
          if (vs.empty()) break;
          at(stream, rollback_requested(p, env, "rb" + id, "", vs.front(), "bad", "bob"));
          t += (1 + pick(600)) * kSecondUs;
          at(stream, deploy_requested(p, env, "d" + id, "", vs.front(), "bob", "rb" + id));
          at(stream, deploy_succeeded(p, env, "d" + id, "", vs.front(), "rb" + id));
          last_deploy[key] = "d" + id;
          break;
        }
        case 6: {  // the open canary ends
          if (canary_of.count(key) == 0) break;
          Payload c;
          if (pick(2) == 0) {
            auto* a = c.mutable_canary_aborted();
            a->set_canary_id(canary_of[key]);
            a->set_project_id(p);
            a->set_environment(env);
            a->set_reason("errors");
          } else {
            auto* a = c.mutable_canary_promoted();
            a->set_canary_id(canary_of[key]);
            a->set_project_id(p);
            a->set_environment(env);
          }
          at(stream, std::move(c));
          canary_of.erase(key);
          break;
        }
      }
    }
    auto r = store->scan(1, store->head_position(), [&](const Envelope& e) {
      events.push_back(e);
      return true;
    });
    ASSERT_TRUE(r);
  }
};

// Asserts that every answer over all projects or one without detail (the
// per-day aggregates at the head) equals the answer computed from the facts, for
// ranges cut inside days and on midnights, each bucket, per environment, with
// a visibility filter, and page by page; returns how many were compared.
size_t expect_aggregates_equal_facts(const ProjectionRunner& runner, int64_t t0) {
  const Queries queries(runner);
  const InsightsQueries q(queries);
  size_t compared = 0;
  const int64_t day = insights::kDayUs, hour = 3600 * kSecondUs;
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {t0, t0 + 60 * day},                              // day-aligned
      {t0 + 5 * hour + 17, t0 + 23 * day + 77},         // partial first and last day
      {t0 + 2 * day + hour, t0 + 2 * day + 20 * hour},  // inside one day
      {t0 + day, t0 + 3 * day},                         // two full days
  };
  for (const auto& [from, to] : ranges) {
    for (const char* project : {"", "p2"}) {
      for (const char* env : {"", "prod", "qa"}) {
        for (auto bucket : {insights::Bucket::kWeek, insights::Bucket::kDay,
                            insights::Bucket::kMonth, insights::Bucket::kNone}) {
          for (bool restricted : {false, true}) {
            InsightsFilter f;
            f.project = project;
            f.environment = env;
            f.from_us = from;
            f.to_us = to;
            f.bucket = bucket;
            if (restricted) f.visible = [](const std::string& p) { return p != "p1"; };
            auto fast = q.insights(f, {});
            f.detail = true;
            auto facts = q.insights(f, {});
            EXPECT_TRUE(fast && facts);
            if (!fast || !facts) return compared;
            EXPECT_EQ(fast->DebugString(), without_detail(*facts).DebugString())
                << "project '" << project << "' env '" << env << "' from " << from << " to " << to
                << " bucket " << insights::bucket_name(bucket) << (restricted ? " restricted" : "");
            ++compared;
            // Paged: pages of 2 groups add up to the whole list.
            f.detail = false;
            f.page.limit = 2;
            std::vector<std::string> paged;
            for (int pages = 0; pages < 100; ++pages) {
              auto page = q.insights(f, {});
              EXPECT_TRUE(page);
              if (!page) return compared;
              EXPECT_LE(page->groups_size(), 2);
              EXPECT_EQ(serialize(page->total()), serialize(fast->total()));
              for (const auto& g : page->groups()) paged.push_back(g.DebugString());
              if (page->next_cursor().empty()) break;
              EXPECT_TRUE(insights::decode_group_cursor(page->next_cursor(), &f.page));
            }
            std::vector<std::string> whole;
            for (const auto& g : fast->groups()) whole.push_back(g.DebugString());
            EXPECT_EQ(paged, whole);
          }
        }
      }
    }
  }
  return compared;
}

TEST(InsightsAggregates, EqualTheFactsOnAGeneratedHistory) {
  Generated g;
  g.build(11, 1500);
  auto r = ProjectionRunner::open(g.dir.path("proj"), g.store.get());
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)->catch_up());
  EXPECT_EQ(expect_aggregates_equal_facts(**r, g.t0), 4u * 2 * 3 * 4 * 2);
  // The history has every kind of figure to compare.
  const Queries queries(**r);
  InsightsFilter f;
  f.from_us = g.t0;
  f.to_us = g.t0 + 60 * insights::kDayUs;
  auto all = InsightsQueries(queries).insights(f, {});
  ASSERT_TRUE(all);
  EXPECT_GT(all->total().deployments(), 200u);
  EXPECT_GT(all->total().rollbacks(), 20u);
  EXPECT_GT(all->total().lead_time_samples(), 100u);
  EXPECT_GT(all->total().failed_deployments(), 20u);
  EXPECT_GT(all->total().restores(), 10u);
  EXPECT_GT(all->total().unrestored(), 0u);
  EXPECT_GT(all->groups_size(), 10);
}

// The aggregates are maintained incrementally: folded a slice at a time
// (the live path, not the bulk rebuild), they answer as the facts after each.
TEST(InsightsAggregates, EqualTheFactsWhileFoldedEventByEvent) {
  Generated g;
  g.build(5, 400);
  auto r = ProjectionRunner::open(g.dir.path("live"), nullptr);
  ASSERT_TRUE(r);
  const size_t slices = 9;
  for (size_t i = 0; i < slices; ++i) {
    const size_t a = g.events.size() * i / slices, b = g.events.size() * (i + 1) / slices;
    for (size_t k = a; k < b; ++k) ASSERT_TRUE((*r)->apply({g.events[k]}));
    expect_aggregates_equal_facts(**r, g.t0);
    if (HasFailure()) return;
  }
}

// Counted straight from the events, independently of the projection: the
// deployments, rollbacks and lead-time median and p90 (nearest rank) of
// every environment over a range, and the groups that deployed.
TEST(InsightsAggregates, CountsAndLeadTimesAsTheEventsSay) {
  Generated g;
  g.build(23, 1500);
  auto r = ProjectionRunner::open(g.dir.path("proj"), g.store.get());
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)->catch_up());
  const int64_t from = g.t0 + 7 * 3600 * kSecondUs + 5, to = g.t0 + 20 * insights::kDayUs + 99;
  std::map<std::string, int64_t> commit_at;        // run -> first commit time
  std::map<std::string, int64_t> version_at;       // project/version -> that commit's time
  std::map<std::string, std::string> rollback_of;  // deploy id -> rollback id of its request
  uint32_t deployments = 0, rollbacks = 0;
  std::vector<int64_t> leads;
  std::set<std::string> groups;
  for (const auto& e : g.events) {
    const auto& p = e.payload();
    if (p.has_commit_observed())
      commit_at.emplace(p.commit_observed().run_id(), e.occurred_at_us());
    if (p.has_version_recorded()) {
      const auto& v = p.version_recorded();
      if (auto c = commit_at.find(v.run_id()); c != commit_at.end()) {
        version_at.emplace(v.project_id() + "/" + v.version(), c->second);
      }
    }
    if (p.has_deploy_requested()) {
      rollback_of[p.deploy_requested().deploy_id()] = p.deploy_requested().rollback_id();
    }
    if (!p.has_deploy_succeeded()) continue;
    const auto& s = p.deploy_succeeded();
    if (!insights::in_range(e.occurred_at_us(), from, to)) continue;
    groups.insert(s.project_id() + "/" + s.environment());
    if (!s.rollback_id().empty() || !rollback_of[s.deploy_id()].empty()) {
      ++rollbacks;
      continue;
    }
    ++deployments;
    auto v = version_at.find(s.project_id() + "/" + s.spec().version());
    if (v != version_at.end() && e.occurred_at_us() >= v->second) {
      leads.push_back(e.occurred_at_us() - v->second);
    }
  }
  ASSERT_GT(deployments, 50u);
  ASSERT_GT(rollbacks, 5u);
  std::sort(leads.begin(), leads.end());
  const Queries queries(**r);
  InsightsFilter f;
  f.from_us = from;
  f.to_us = to;
  auto answer = InsightsQueries(queries).insights(f, {});
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->total().deployments(), deployments);
  EXPECT_EQ(answer->total().rollbacks(), rollbacks);
  ASSERT_EQ(answer->total().lead_time_samples(), leads.size());
  EXPECT_DOUBLE_EQ(answer->total().lead_time_median_s(),
                   static_cast<double>(leads[insights::nearest_rank(leads.size(), 50)]) / 1e6);
  EXPECT_DOUBLE_EQ(answer->total().lead_time_p90_s(),
                   static_cast<double>(leads[insights::nearest_rank(leads.size(), 90)]) / 1e6);
  std::set<std::string> answered;
  for (const auto& grp : answer->groups())
    answered.insert(grp.project_id() + "/" + grp.environment());
  EXPECT_EQ(answered, groups);
}

TEST(InsightsMath, NearestRankAndBuckets) {
  EXPECT_EQ(insights::nearest_rank(1, 50), 0u);
  EXPECT_EQ(insights::nearest_rank(2, 50), 0u);
  EXPECT_EQ(insights::nearest_rank(4, 50), 1u);
  EXPECT_EQ(insights::nearest_rank(10, 90), 8u);
  EXPECT_EQ(insights::nearest_rank(11, 90), 9u);
  EXPECT_TRUE(insights::in_failure_window(0, insights::kFailureWindowUs));
  EXPECT_FALSE(insights::in_failure_window(0, insights::kFailureWindowUs + 1));
  EXPECT_FALSE(insights::in_failure_window(10, 9));
  const int64_t wed = *parse_rfc3339("2026-01-07T13:45:00Z");
  EXPECT_EQ(insights::bucket_start(wed, insights::Bucket::kWeek),
            *parse_rfc3339("2026-01-05T00:00:00Z"));
  EXPECT_EQ(insights::bucket_start(wed, insights::Bucket::kDay),
            *parse_rfc3339("2026-01-07T00:00:00Z"));
  EXPECT_EQ(insights::bucket_start(wed, insights::Bucket::kMonth),
            *parse_rfc3339("2026-01-01T00:00:00Z"));
  EXPECT_EQ(insights::bucket_end(*parse_rfc3339("2026-02-01T00:00:00Z"), insights::Bucket::kMonth),
            *parse_rfc3339("2026-03-01T00:00:00Z"));
}

}  // namespace
}  // namespace wharf::projections
