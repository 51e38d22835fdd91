// Each projection from one scripted history with a failed build, failed
// deploy, rollback, cancelled run, approval gate, permission grant, denial and
// revocation, and an admin token; plus time travel and read-your-writes.
#include <gtest/gtest.h>

#include "projections/queries.h"
#include "projections/runner.h"
#include "tests/projections/history.h"

namespace wharf::projections {
namespace {

using namespace testing;
using wharf::v1::CHANNEL_UI;
namespace views = wharf::views::v1;

class ScriptedHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path("log"));
    ASSERT_TRUE(store_);
    History h(*store_);
    h.add("project-shop", project_created("shop", {"staging", "prod"}, "alice"), "alice",
          CHANNEL_UI);
    h.add("access-shop", permission_granted("shop", "alice", wharf::v1::ROLE_OWNER, "system"));
    // r1: build fails once, then v1 goes to staging (tests pass), then prod after approval.
    h.add("run-r1", commit_observed("shop", "r1", "aaaa1111aaaa1111", "erin"), "gerrit:review",
          wharf::v1::CHANNEL_GERRIT);
    h.add("run-r1", run_started("shop", "r1", "aaaa1111aaaa1111"));
    h.add("run-r1", build_requested("shop", "r1", 1));
    h.add("run-r1", build_started("r1", 1));
    h.add("run-r1", build_failed("r1", 1, "flaky test"));
    h.add("run-r1", build_requested("shop", "r1", 2));
    h.add("run-r1", build_started("r1", 2));
    h.add("run-r1", build_succeeded("r1", 2, "sha256:v1"));
    h.add("run-r1", version_recorded("shop", "r1", "v1", "aaaa1111aaaa1111", "erin"));
    h.add("env-shop-staging", deploy_requested("shop", "staging", "d1", "r1", "v1", "system"));
    h.add("env-shop-staging", deploy_started("shop", "staging", "d1"));
    h.add("env-shop-staging", deploy_succeeded("shop", "staging", "d1", "r1", "v1"));
    h.add("run-r1", tests_requested("shop", "r1", "staging"));
    h.add("run-r1", tests_passed("r1", "staging"));
    h.add("run-r1", approval_required("shop", "r1", "prod"));
    h.add("run-r1", approval_granted("r1", "prod", "bob"), "bob", CHANNEL_UI);
    h.add("env-shop-prod", deploy_requested("shop", "prod", "d2", "r1", "v1", "system"));
    prod_v1_ = h.add("env-shop-prod", deploy_succeeded("shop", "prod", "d2", "r1", "v1"));
    h.add("run-r1", run_completed("shop", "r1", true));
    // r2: v2 to prod.
    h.add("run-r2", commit_observed("shop", "r2", "bbbb2222bbbb2222", "erin"));
    h.add("run-r2", run_started("shop", "r2", "bbbb2222bbbb2222"));
    h.add("run-r2", build_requested("shop", "r2", 1));
    h.add("run-r2", build_succeeded("r2", 1, "sha256:v2"));
    h.add("run-r2", version_recorded("shop", "r2", "v2", "bbbb2222bbbb2222", "erin"));
    h.add("env-shop-prod", deploy_requested("shop", "prod", "d3", "r2", "v2", "system"));
    prod_v2_ = h.add("env-shop-prod", deploy_succeeded("shop", "prod", "d3", "r2", "v2"));
    h.add("run-r2", run_completed("shop", "r2", true));
    // r3: v3's prod deploy fails; v2 keeps serving.
    h.add("run-r3", commit_observed("shop", "r3", "cccc3333cccc3333", "frank"));
    h.add("run-r3", build_requested("shop", "r3", 1));
    h.add("run-r3", build_succeeded("r3", 1, "sha256:v3"));
    h.add("run-r3", version_recorded("shop", "r3", "v3", "cccc3333cccc3333", "frank"));
    h.add("env-shop-prod", deploy_requested("shop", "prod", "d4", "r3", "v3", "system"));
    failed_ =
        h.add("env-shop-prod", deploy_failed("shop", "prod", "d4", "r3", "health check failed"));
    h.add("run-r3", run_completed("shop", "r3", false, "deploy to prod failed"));
    // Permissions: carol asks and is granted deployer; mallory is denied; dave waits.
    h.add("access-shop", permission_requested("q1", "shop", "carol", wharf::v1::ROLE_DEPLOYER),
          "carol", CHANNEL_UI);
    granted_ = h.add("access-shop",
                     permission_granted("shop", "carol", wharf::v1::ROLE_DEPLOYER, "alice", "q1"),
                     "alice", CHANNEL_UI);
    h.add("access-shop", permission_requested("q2", "shop", "mallory", wharf::v1::ROLE_OWNER),
          "mallory", CHANNEL_UI);
    h.add("access-shop", permission_denied("q2", "shop", "mallory", "alice"), "alice", CHANNEL_UI);
    h.add("access-shop", permission_requested("q3", "shop", "dave", wharf::v1::ROLE_VIEWER),
          "dave");
    // Carol rolls prod back to the v1 deploy because of v2's latency.
    auto target = store_->read_all(prod_v1_, 1);
    ASSERT_TRUE(target && target->size() == 1);
    prod_v1_event_ = target->front().event_id();
    rollback_ = h.add("env-shop-prod",
                      rollback_requested("shop", "prod", "rb1", prod_v1_event_, "v1",
                                         "latency regression in v2", "carol"),
                      "carol", CHANNEL_UI);
    h.add("env-shop-prod",
          deploy_requested("shop", "prod", "d5", "", "v1", "carol", "rb1", prod_v1_event_));
    rolled_back_ = h.add("env-shop-prod", deploy_succeeded("shop", "prod", "d5", "", "v1", "rb1"));
    // r4: cancelled while building.
    h.add("run-r4", commit_observed("shop", "r4", "dddd4444dddd4444", "erin"));
    h.add("run-r4", run_started("shop", "r4", "dddd4444dddd4444"));
    h.add("run-r4", build_requested("shop", "r4", 1));
    h.add("run-r4", build_started("r4", 1));
    h.add("run-r4", run_cancelled("shop", "r4", "dave"), "dave", CHANNEL_UI);
    revoked_ =
        h.add("access-shop", permission_revoked("shop", "carol", wharf::v1::ROLE_DEPLOYER, "alice"),
              "alice");
    head_ = h.add("tokens", token_issued("t1", "root", true), "root", wharf::v1::CHANNEL_CLI);

    auto runner = ProjectionRunner::open(dir_.path("projections"), store_.get());
    ASSERT_TRUE(runner) << runner.error().message;
    runner_ = std::move(*runner);
    auto reached = runner_->catch_up();
    ASSERT_TRUE(reached) << reached.error().message;
    ASSERT_EQ(*reached, head_);
  }

  QueryOptions at(uint64_t position) const {
    QueryOptions o;
    o.at_position = position;
    return o;
  }

  TempDir dir_;
  std::unique_ptr<events::EventStore> store_;
  std::unique_ptr<ProjectionRunner> runner_;
  uint64_t prod_v1_ = 0, prod_v2_ = 0, failed_ = 0, granted_ = 0, rollback_ = 0, rolled_back_ = 0,
           revoked_ = 0, head_ = 0;
  std::string prod_v1_event_;
};

TEST_F(ScriptedHistory, ProjectsHoldConfigurationAndMembership) {
  Queries q(*runner_);
  auto all = q.list_projects({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->projects_size(), 1);
  EXPECT_EQ(all->position(), head_);
  const auto& shop = all->projects(0);
  EXPECT_EQ(shop.name(), "Project shop");
  EXPECT_EQ(shop.owner(), "alice");
  ASSERT_EQ(shop.environments_size(), 2);
  EXPECT_EQ(shop.environments(0).name(), "staging");
  EXPECT_EQ(shop.repository().local_git().path(), "/srv/shop");

  // Carol sees the project while she holds a role, not after revocation.
  auto carol_then = q.list_projects(at(granted_), "carol");
  ASSERT_TRUE(carol_then);
  EXPECT_EQ(carol_then->projects_size(), 1);
  auto carol_now = q.list_projects({}, "carol");
  ASSERT_TRUE(carol_now);
  EXPECT_EQ(carol_now->projects_size(), 0);
  EXPECT_EQ(q.list_projects({}, "mallory")->projects_size(), 0);

  auto missing = q.get_project("nope", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  // Before the project existed.
  EXPECT_FALSE(q.get_project("shop", at(0)));
}

TEST_F(ScriptedHistory, RunsHaveStepTimelines) {
  Queries q(*runner_);
  auto r1 = q.get_run("r1", {});
  ASSERT_TRUE(r1) << r1.error().message;
  const auto& run = r1->value;
  EXPECT_EQ(run.status(), views::RUN_STATUS_SUCCEEDED);
  EXPECT_EQ(run.project_id(), "shop");
  EXPECT_EQ(run.author().username(), "erin");
  EXPECT_EQ(run.version(), "v1");
  ASSERT_EQ(run.steps_size(), 6);
  EXPECT_EQ(run.steps(0).kind(), views::STEP_KIND_BUILD);
  EXPECT_EQ(run.steps(0).attempt(), 1u);
  EXPECT_EQ(run.steps(0).status(), views::STEP_STATUS_FAILED);
  EXPECT_EQ(run.steps(0).detail(), "flaky test");
  EXPECT_EQ(run.steps(1).attempt(), 2u);
  EXPECT_EQ(run.steps(1).status(), views::STEP_STATUS_SUCCEEDED);
  EXPECT_EQ(run.steps(1).external_id(), "job-r1-2");
  EXPECT_GT(run.steps(1).ended_at_us(), 0);
  EXPECT_EQ(run.steps(2).kind(), views::STEP_KIND_DEPLOY);
  EXPECT_EQ(run.steps(2).environment(), "staging");
  EXPECT_EQ(run.steps(2).status(), views::STEP_STATUS_SUCCEEDED);
  EXPECT_EQ(run.steps(3).kind(), views::STEP_KIND_TESTS);
  EXPECT_EQ(run.steps(3).status(), views::STEP_STATUS_SUCCEEDED);
  EXPECT_EQ(run.steps(4).kind(), views::STEP_KIND_APPROVAL);
  EXPECT_EQ(run.steps(4).status(), views::STEP_STATUS_APPROVED);
  EXPECT_EQ(run.steps(4).actor(), "bob");
  EXPECT_EQ(run.steps(5).environment(), "prod");
  EXPECT_EQ(run.steps(5).deploy_id(), "d2");

  auto r3 = q.get_run("r3", {});
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->value.status(), views::RUN_STATUS_FAILED);
  EXPECT_EQ(r3->value.steps(r3->value.steps_size() - 1).status(), views::STEP_STATUS_FAILED);
  EXPECT_EQ(r3->value.steps(r3->value.steps_size() - 1).detail(), "health check failed");

  auto r4 = q.get_run("r4", {});
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->value.status(), views::RUN_STATUS_CANCELLED);
  EXPECT_EQ(r4->value.cancelled_by(), "dave");
  ASSERT_EQ(r4->value.steps_size(), 1);
  EXPECT_EQ(r4->value.steps(0).status(), views::STEP_STATUS_CANCELLED);

  // While r1 waited at the gate.
  auto gated = q.get_run("r1", at(prod_v1_ - 3));
  ASSERT_TRUE(gated);
  EXPECT_EQ(gated->value.waiting_for_approval(), "prod");
  EXPECT_EQ(gated->value.status(), views::RUN_STATUS_RUNNING);

  RunFilter f;
  f.project_id = "shop";
  auto list = q.list_runs(f, {});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->runs_size(), 4);
  EXPECT_EQ(list->runs(0).run_id(), "r4");
  EXPECT_EQ(list->runs(3).run_id(), "r1");
  f.status = views::RUN_STATUS_CANCELLED;
  auto cancelled = q.list_runs(f, {});
  ASSERT_EQ(cancelled->runs_size(), 1);
  EXPECT_EQ(cancelled->runs(0).run_id(), "r4");
  // Paging.
  RunFilter page;
  page.limit = 3;
  auto first = q.list_runs(page, {});
  ASSERT_EQ(first->runs_size(), 3);
  ASSERT_NE(first->next_before(), 0u);
  page.before = first->next_before();
  auto second = q.list_runs(page, {});
  ASSERT_EQ(second->runs_size(), 1);
  EXPECT_EQ(second->runs(0).run_id(), "r1");
  EXPECT_EQ(second->next_before(), 0u);
}

TEST_F(ScriptedHistory, VersionHistoryRecordsBuildsAndDeployments) {
  Queries q(*runner_);
  auto list = q.list_versions("shop", 0, 10, {});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->versions_size(), 3);
  EXPECT_EQ(list->versions(0).version(), "v3");
  EXPECT_EQ(list->versions(2).version(), "v1");

  auto v1 = q.get_version("shop", "v1", {});
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->value.commit_sha(), "aaaa1111aaaa1111");
  EXPECT_EQ(v1->value.change_number(), 100u);
  EXPECT_EQ(v1->value.patchset(), 2u);
  EXPECT_EQ(v1->value.branch(), "main");
  EXPECT_EQ(v1->value.artifact_digest(), "sha256:v1");
  EXPECT_EQ(v1->value.build().attempt(), 2u);
  EXPECT_EQ(v1->value.build().external_id(), "job-r1-2");
  EXPECT_EQ(v1->value.build().duration_ms(), 1234u);
  ASSERT_EQ(v1->value.deployments_size(), 3);
  EXPECT_EQ(v1->value.deployments(0).environment(), "staging");
  EXPECT_EQ(v1->value.deployments(1).environment(), "prod");
  EXPECT_EQ(v1->value.deployments(1).event_id(), prod_v1_event_);
  EXPECT_EQ(v1->value.deployments(2).rollback_id(), "rb1");
  EXPECT_EQ(v1->value.deployments(2).requested_by(), "carol");

  auto v3 = q.get_version("shop", "v3", {});
  ASSERT_TRUE(v3);
  EXPECT_EQ(v3->value.deployments_size(), 0);

  // Before the rollback v1 had two deployments.
  auto earlier = q.get_version("shop", "v1", at(rollback_));
  ASSERT_TRUE(earlier);
  EXPECT_EQ(earlier->value.deployments_size(), 2);
}

TEST_F(ScriptedHistory, EnvironmentsTrackCurrentPreviousAndHistory) {
  Queries q(*runner_);
  auto prod = q.get_environment("shop", "prod", {});
  ASSERT_TRUE(prod);
  EXPECT_EQ(prod->value.current().version(), "v1");
  EXPECT_EQ(prod->value.current().rollback_id(), "rb1");
  EXPECT_EQ(prod->value.current().rollback_reason(), "latency regression in v2");
  EXPECT_EQ(prod->value.current().rollback_of_event_id(), prod_v1_event_);
  EXPECT_EQ(prod->value.current().requested_by(), "carol");
  EXPECT_EQ(prod->value.previous().version(), "v2");
  EXPECT_EQ(prod->value.deploys_succeeded(), 3u);
  EXPECT_EQ(prod->value.deploys_failed(), 1u);
  EXPECT_EQ(prod->value.rollbacks(), 1u);
  EXPECT_FALSE(prod->value.has_in_flight());

  // Time travel across the rollback and the failed deploy.
  EXPECT_FALSE(q.get_environment("shop", "prod", at(1))->value.has_current());
  EXPECT_EQ(q.get_environment("shop", "prod", at(prod_v1_))->value.current().version(), "v1");
  EXPECT_EQ(q.get_environment("shop", "prod", at(prod_v2_))->value.current().version(), "v2");
  auto during_failed = q.get_environment("shop", "prod", at(failed_ - 1));
  EXPECT_EQ(during_failed->value.in_flight().deploy_id(), "d4");
  EXPECT_EQ(during_failed->value.current().version(), "v2");
  EXPECT_EQ(q.get_environment("shop", "prod", at(failed_))->value.current().version(), "v2");
  EXPECT_EQ(q.get_environment("shop", "prod", at(rolled_back_ - 1))->value.current().version(),
            "v2");
  EXPECT_EQ(q.get_environment("shop", "prod", at(rolled_back_))->value.current().version(), "v1");

  // By time: the last event recorded at or before the v2 deploy's time.
  auto v2_event = store_->read_all(prod_v2_, 1);
  QueryOptions by_time;
  by_time.at_time_us = v2_event->front().recorded_at_us();
  auto at_time = q.get_environment("shop", "prod", by_time);
  ASSERT_TRUE(at_time);
  EXPECT_GE(at_time->position, prod_v2_);
  EXPECT_LT(at_time->position, rolled_back_);
  EXPECT_EQ(at_time->value.current().version(), "v2");
  QueryOptions before_all;
  before_all.at_time_us = 0;
  EXPECT_EQ(q.get_environment("shop", "prod", before_all).error().code, ErrorCode::kNotFound);

  auto history = q.environment_history("shop", "prod", {});
  ASSERT_TRUE(history);
  std::vector<views::HistoryKind> kinds;
  for (const auto& e : history->events()) kinds.push_back(e.kind());
  std::vector<views::HistoryKind> want = {
      views::HISTORY_KIND_DEPLOY_REQUESTED,   views::HISTORY_KIND_DEPLOY_SUCCEEDED,
      views::HISTORY_KIND_DEPLOY_REQUESTED,   views::HISTORY_KIND_DEPLOY_SUCCEEDED,
      views::HISTORY_KIND_DEPLOY_REQUESTED,   views::HISTORY_KIND_DEPLOY_FAILED,
      views::HISTORY_KIND_ROLLBACK_REQUESTED, views::HISTORY_KIND_DEPLOY_REQUESTED,
      views::HISTORY_KIND_DEPLOY_SUCCEEDED};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(history->events(1).approved_by(), "bob");
  EXPECT_EQ(history->events(5).reason(), "health check failed");
  EXPECT_EQ(history->events(6).requested_by(), "carol");
  EXPECT_EQ(history->events(6).channel(), CHANNEL_UI);
  EXPECT_EQ(history->next_before(), 0u);

  // Pages of 4 (newest first, each oldest first) put together are the
  // whole history; the last page says there is no more.
  std::vector<std::string> pages;
  uint64_t before = 0;
  for (int page = 0; page < 3; ++page) {
    auto p = q.environment_history("shop", "prod", {}, before, 4);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->events_size(), page < 2 ? 4 : 1);
    std::vector<std::string> lines;
    for (const auto& e : p->events()) lines.push_back(serialize(e));
    pages.insert(pages.begin(), lines.begin(), lines.end());
    before = p->next_before();
    if (page < 2) {
      EXPECT_EQ(before, p->events(0).position());
    } else {
      EXPECT_EQ(before, 0u);
    }
  }
  std::vector<std::string> whole;
  for (const auto& e : history->events()) whole.push_back(serialize(e));
  EXPECT_EQ(pages, whole);
  EXPECT_EQ(history->events(8).previous_version(), "v2");
  EXPECT_EQ(history->events(8).reason(), "latency regression in v2");

  auto envs = q.list_environments("shop", {});
  ASSERT_EQ(envs->environments_size(), 2);
  EXPECT_EQ(envs->environments(0).environment(), "staging");
  EXPECT_EQ(envs->environments(0).current().version(), "v1");
}

TEST_F(ScriptedHistory, PermissionsFollowGrantsDenialsAndRevocations) {
  Queries q(*runner_);
  auto members = q.project_permissions("shop", {});
  ASSERT_TRUE(members);
  ASSERT_EQ(members->assignments_size(), 1);
  EXPECT_EQ(members->assignments(0).user(), "alice");
  EXPECT_EQ(members->assignments(0).role(), wharf::v1::ROLE_OWNER);

  auto then = q.project_permissions("shop", at(granted_));
  ASSERT_EQ(then->assignments_size(), 2);
  EXPECT_EQ(q.role_of("shop", "carol", at(granted_))->value, wharf::v1::ROLE_DEPLOYER);
  EXPECT_EQ(q.role_of("shop", "carol", {})->value, wharf::v1::ROLE_UNSPECIFIED);
  EXPECT_EQ(q.user_permissions("carol", {})->assignments_size(), 0);
  EXPECT_EQ(q.user_permissions("alice", {})->assignments_size(), 1);

  auto pending = q.permission_requests("shop", true, {});
  ASSERT_EQ(pending->requests_size(), 1);
  EXPECT_EQ(pending->requests(0).user(), "dave");
  auto all = q.permission_requests("", false, {});
  ASSERT_EQ(all->requests_size(), 3);
  EXPECT_EQ(all->requests(0).request_id(), "q3");
  EXPECT_EQ(all->requests(1).status(), views::REQUEST_STATUS_DENIED);
  EXPECT_EQ(all->requests(1).decided_by(), "alice");
  EXPECT_EQ(all->requests(2).status(), views::REQUEST_STATUS_GRANTED);
  // q1 was pending before the grant.
  auto before_grant = q.permission_requests("shop", true, at(granted_ - 1));
  ASSERT_EQ(before_grant->requests_size(), 1);
  EXPECT_EQ(before_grant->requests(0).request_id(), "q1");

  EXPECT_TRUE(q.is_admin("root", {})->value);
  EXPECT_FALSE(q.is_admin("alice", {})->value);
  EXPECT_FALSE(q.is_admin("root", at(head_ - 1))->value);
  auto token = q.token_by_sha256("sha-t1", {});
  ASSERT_TRUE(token);
  EXPECT_EQ(token->value.user(), "root");
  EXPECT_EQ(q.list_tokens({})->tokens_size(), 1);
}

TEST_F(ScriptedHistory, AuditFiltersAndPages) {
  Queries q(*runner_);
  AuditFilter f;
  f.limit = 7;
  std::vector<uint64_t> seen;
  for (;;) {
    auto page = q.audit(f, {});
    ASSERT_TRUE(page);
    for (const auto& e : page->entries()) seen.push_back(e.position());
    if (page->next_cursor() == 0) break;
    f.cursor = page->next_cursor();
  }
  ASSERT_EQ(seen.size(), head_);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], head_ - i);

  AuditFilter by_project;
  by_project.project_id = "shop";
  by_project.type = "BuildStarted";
  auto builds = q.audit(by_project, {});
  ASSERT_EQ(builds->entries_size(), 3);  // BuildStarted names no project; the run does
  EXPECT_EQ(builds->entries(0).project_id(), "shop");

  AuditFilter by_actor;
  by_actor.actor = "carol";
  auto carol = q.audit(by_actor, {});
  ASSERT_EQ(carol->entries_size(), 2);
  EXPECT_EQ(carol->entries(0).type(), "RollbackRequested");
  EXPECT_EQ(carol->entries(0).channel(), CHANNEL_UI);
  EXPECT_EQ(carol->entries(1).type(), "PermissionRequested");

  AuditFilter text;
  text.text = "LATENCY";
  auto latency = q.audit(text, {});
  ASSERT_EQ(latency->entries_size(), 1);
  EXPECT_EQ(latency->entries(0).position(), rollback_);

  AuditFilter failed;
  failed.type = "DeployFailed";
  failed.oldest_first = true;
  auto f_page = q.audit(failed, {});
  ASSERT_EQ(f_page->entries_size(), 1);
  EXPECT_EQ(f_page->entries(0).position(), failed_);

  // Time range: exactly the events recorded between two events' times.
  auto a = store_->read_all(prod_v2_, 1)->front().recorded_at_us();
  auto b = store_->read_all(rollback_, 1)->front().recorded_at_us();
  AuditFilter range;
  range.from_time_us = a;
  range.to_time_us = b;
  range.limit = 1000;
  auto in_range = q.audit(range, {});
  ASSERT_TRUE(in_range);
  auto all = store_->read_all(1, 1000);
  size_t expected = 0;
  for (const auto& e : *all) expected += e.recorded_at_us() >= a && e.recorded_at_us() <= b;
  EXPECT_EQ(static_cast<size_t>(in_range->entries_size()), expected);

  // Audit as of an earlier position sees nothing later.
  auto early = q.audit(AuditFilter{}, at(10));
  EXPECT_EQ(early->entries(0).position(), 10u);
}

TEST_F(ScriptedHistory, MinPositionWaitsThenTimesOut) {
  Queries q(*runner_);
  QueryOptions o;
  o.min_position = head_ + 1;
  o.timeout = std::chrono::milliseconds(50);
  auto late = q.get_project("shop", o);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kTimeout);
  EXPECT_NE(late.error().message.find(std::to_string(head_ + 1)), std::string::npos);

  // Live: append, then read our own write.
  ASSERT_TRUE(runner_->start());
  History h(*store_);
  uint64_t pos = h.add("project-shop", environment_defined("shop", "canary", 1));
  o.min_position = pos;
  o.timeout = std::chrono::seconds(30);
  auto fresh = q.get_project("shop", o);
  ASSERT_TRUE(fresh) << fresh.error().message;
  ASSERT_EQ(fresh->value.environments_size(), 3);
  EXPECT_EQ(fresh->value.environments(1).name(), "canary");
  runner_->stop();
  EXPECT_EQ(runner_->position(), pos);
}

// The project view takes the new template; reading `at` the position before
// the update still shows the old one.
// A canary's start, steps, promotion and abort are lines of the
// environment's history (who moved it, to what share, why it ended); the
// view itself is the deploys'.
TEST(EnvironmentsProjectionTest, CanaryStepsAndItsEndAreHistoryLines) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  History h(*store);
  h.add("project-shop", project_created("shop", {"prod"}, "alice"), "alice", CHANNEL_UI);
  h.add("env-shop-prod", deploy_succeeded("shop", "prod", "d1", "r1", "v1"));
  h.add("env-shop-prod", deploy_succeeded("shop", "prod", "d2", "r2", "v2"));
  Payload started;
  auto* s = started.mutable_canary_started();
  s->set_canary_id("c1");
  s->set_project_id("shop");
  s->set_environment("prod");
  s->set_deploy_id("d2");
  s->set_version("v2");
  s->set_stable_version("v1");
  s->set_requested_by("erin");
  h.add("env-shop-prod", started);
  auto step = [](uint32_t index, uint32_t weight, const std::string& by) {
    Payload p;
    auto* r = p.mutable_canary_step_reached();
    r->set_canary_id("c1");
    r->set_project_id("shop");
    r->set_environment("prod");
    r->set_step(index);
    r->set_weight(weight);
    r->set_manual(true);
    r->set_promoted_by(by);
    return p;
  };
  h.add("env-shop-prod", step(0, 10, ""));
  h.add("env-shop-prod", step(1, 50, "carol"), "carol", CHANNEL_UI);
  Payload aborted;
  auto* a = aborted.mutable_canary_aborted();
  a->set_canary_id("c1");
  a->set_project_id("shop");
  a->set_environment("prod");
  a->set_reason("canary error rate 20.0% over the limit 5.0%");
  a->set_automatic(true);
  a->set_weight(50);
  a->set_aborted_by("system");
  a->set_version("v2");
  a->set_stable_version("v1");
  const uint64_t last = h.add("env-shop-prod", aborted);
  Payload promoted;  // a second canary, promoted by dave
  auto* pr = promoted.mutable_canary_promoted();
  pr->set_canary_id("c2");
  pr->set_project_id("shop");
  pr->set_environment("prod");
  pr->set_version("v3");
  pr->set_deploy_id("d3");
  pr->set_promoted_by("dave");
  const uint64_t end = h.add("env-shop-prod", promoted, "dave", CHANNEL_UI);

  auto runner = ProjectionRunner::open(dir.path("projections"), store.get());
  ASSERT_TRUE(runner) << runner.error().message;
  ASSERT_EQ((*runner)->catch_up().value(), end);
  Queries q(**runner);
  auto history = q.environment_history("shop", "prod", {});
  ASSERT_TRUE(history);
  std::vector<views::HistoryKind> kinds;
  for (const auto& e : history->events()) kinds.push_back(e.kind());
  EXPECT_EQ(kinds, (std::vector<views::HistoryKind>{
                       views::HISTORY_KIND_DEPLOY_SUCCEEDED, views::HISTORY_KIND_DEPLOY_SUCCEEDED,
                       views::HISTORY_KIND_CANARY_STARTED, views::HISTORY_KIND_CANARY_STEP_REACHED,
                       views::HISTORY_KIND_CANARY_STEP_REACHED, views::HISTORY_KIND_CANARY_ABORTED,
                       views::HISTORY_KIND_CANARY_PROMOTED}));
  const auto& start = history->events(2);
  EXPECT_EQ(start.canary_id(), "c1");
  EXPECT_EQ(start.version(), "v2");
  EXPECT_EQ(start.previous_version(), "v1");
  EXPECT_EQ(start.requested_by(), "erin");
  EXPECT_EQ(history->events(3).weight(), 10u);
  EXPECT_EQ(history->events(3).reason(), "step 1 at 10%, waits for a promote");
  EXPECT_EQ(history->events(4).weight(), 50u);
  EXPECT_EQ(history->events(4).requested_by(), "carol");
  EXPECT_EQ(history->events(4).channel(), CHANNEL_UI);
  const auto& end_line = history->events(5);
  EXPECT_EQ(end_line.position(), last);
  EXPECT_EQ(end_line.weight(), 50u);
  EXPECT_EQ(end_line.reason(), "automatic: canary error rate 20.0% over the limit 5.0%");
  EXPECT_EQ(end_line.previous_version(), "v1");
  EXPECT_EQ(history->events(6).requested_by(), "dave");
  EXPECT_EQ(history->events(6).weight(), 100u);
  // The canary lines change no counters; the aborted canary is no longer
  // current, the stable version it ran beside is (issue 24, item 5).
  auto prod = q.get_environment("shop", "prod", {});
  ASSERT_TRUE(prod);
  EXPECT_EQ(prod->value.current().version(), "v1");
  EXPECT_EQ(prod->value.previous().version(), "v2");
  EXPECT_EQ(prod->value.deploys_succeeded(), 2u);
}

TEST(ProjectsProjectionTest, PipelineTemplateUpdatedReplacesTheTemplate) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  History h(*store);
  Payload created = project_created("shop", {"staging"}, "alice");
  created.mutable_project_created()->mutable_template_()->mutable_build()->set_command("make");
  created.mutable_project_created()->mutable_template_()->set_start_command("./app");
  const uint64_t before = h.add("project-shop", created, "alice", CHANNEL_UI);
  const uint64_t after =
      h.add("project-shop", pipeline_template_updated("shop", "make release"), "alice", CHANNEL_UI);

  auto runner = ProjectionRunner::open(dir.path("projections"), store.get());
  ASSERT_TRUE(runner) << runner.error().message;
  auto reached = (*runner)->catch_up();
  ASSERT_TRUE(reached) << reached.error().message;
  ASSERT_EQ(*reached, after);

  Queries q(**runner);
  auto now = q.get_project("shop", {});
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_EQ(now->value.template_().build().command(), "make release");
  EXPECT_EQ(now->value.template_().start_command(), "");  // replaced whole, not merged
  EXPECT_EQ(now->value.updated_position(), after);
  QueryOptions then;
  then.at_position = before;
  auto old = q.get_project("shop", then);
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->value.template_().build().command(), "make");
  EXPECT_EQ(old->value.template_().start_command(), "./app");
}

TEST(QueryOptionsTest, ParsesAtAsPositionOrTime) {
  auto p = with_at({}, "42");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->at_position, 42u);
  auto t = with_at({}, "2026-03-03T14:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t->at_time_us, 1772546400000000LL);
  auto offset = with_at({}, "2026-03-03T15:00:00.5+01:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset->at_time_us, 1772546400500000LL);
  auto bad = with_at({}, "yesterday");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

// Issue 24, item 5: an aborted canary's deploy made it `current` for the
// while it ran beside the stable version; after the abort the environment's
// current is the stable version again (the API, `wharf health`, the console).
TEST(CanaryCurrent, AnAbortedCanaryIsNoLongerCurrentAPromotedOneStays) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  History h(*store);
  h.add("project-shop", project_created("shop", {"prod"}, "alice"), "alice", CHANNEL_UI);
  h.add("env-shop-prod", deploy_succeeded("shop", "prod", "d1", "r1", "v1"));
  auto canary_deploy = [](const std::string& deploy, const std::string& version) {
    Payload ok = deploy_succeeded("shop", "prod", deploy, "", version);
    ok.mutable_deploy_succeeded()->mutable_spec()->mutable_canary()->add_steps()->set_weight(25);
    return ok;
  };
  const uint64_t canary_up = h.add("env-shop-prod", canary_deploy("d2", "v2"));
  Payload aborted;
  auto* a = aborted.mutable_canary_aborted();
  a->set_canary_id("c2");
  a->set_project_id("shop");
  a->set_environment("prod");
  a->set_version("v2");
  a->set_stable_version("v1");
  const uint64_t after_abort = h.add("env-shop-prod", aborted);
  h.add("env-shop-prod", canary_deploy("d3", "v3"));
  Payload promoted;
  auto* pr = promoted.mutable_canary_promoted();
  pr->set_canary_id("c3");
  pr->set_project_id("shop");
  pr->set_environment("prod");
  pr->set_version("v3");
  const uint64_t head = h.add("env-shop-prod", promoted);

  auto runner = ProjectionRunner::open(dir.path("projections"), store.get());
  ASSERT_TRUE(runner) << runner.error().message;
  auto reached = (*runner)->catch_up();
  ASSERT_TRUE(reached) << reached.error().message;
  ASSERT_EQ(*reached, head);
  Queries q(**runner);
  QueryOptions at;
  at.at_position = canary_up;
  EXPECT_EQ(q.get_environment("shop", "prod", at)->value.current().version(), "v2");
  at.at_position = after_abort;
  auto view = q.get_environment("shop", "prod", at);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->value.current().version(), "v1");
  EXPECT_EQ(view->value.current().deploy_id(), "d1");
  EXPECT_EQ(view->value.previous().version(), "v2");
  EXPECT_EQ(q.get_environment("shop", "prod", {})->value.current().version(), "v3");
}

}  // namespace
}  // namespace wharf::projections
