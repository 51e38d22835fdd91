// Auditor round trip: export one project's events with the include filter,
// verify the file offline, replay it into a scratch directory with no store,
// and get the same version history and environment timeline as the server's
// projections. A tampered export fails verification naming the position.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "events/export.h"
#include "projections/audit_tools.h"
#include "projections/queries.h"
#include "projections/runner.h"
#include "projections/state_batch.h"
#include "tests/projections/history.h"

namespace wharf::projections {
namespace {

using namespace testing;

class ExportRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path("log"));
    ASSERT_TRUE(store_);
    History h(*store_);
    for (const std::string p : {"shop", "blog"}) {
      h.add("project-" + p, project_created(p, {"staging", "prod"}, "alice"), "alice");
    }
    for (int i = 1; i <= 4; ++i) {
      for (const std::string p : {"shop", "blog"}) {
        std::string run = p + "-r" + std::to_string(i), v = p + "-v" + std::to_string(i);
        std::string sha = std::string(16, static_cast<char>('a' + i)) + p;
        uint64_t pos = h.add("run-" + run, commit_observed(p, run, sha, "erin"));
        if (p == "shop" && i == 3) tampered_position_ = pos;
        h.add("run-" + run, build_started(run, 1));
        h.add("run-" + run, build_succeeded(run, 1, "sha256:" + v));
        h.add("run-" + run, version_recorded(p, run, v, sha, "erin"));
        h.add("run-" + run, approval_granted(run, "prod", "bob"), "bob");
        std::string env = "env-" + p + "-prod", d = run + "-d";
        h.add(env, deploy_requested(p, "prod", d, run, v, "system"));
        h.add(env, deploy_started(p, "prod", d));
        if (i == 4) {
          h.add(env, deploy_failed(p, "prod", d, run, "crash loop"));
        } else {
          h.add(env, deploy_succeeded(p, "prod", d, run, v));
        }
      }
    }
    auto target = store_->read_all(1, 1000);
    std::string v2_event;
    for (const auto& e : *target) {
      if (e.payload().has_deploy_succeeded() && e.payload().deploy_succeeded().spec().version() == "shop-v2") {
        v2_event = e.event_id();
      }
    }
    h.add("env-shop-prod", rollback_requested("shop", "prod", "rb1", v2_event, "shop-v2",
                                              "v3 leaks memory", "carol"), "carol");
    h.add("env-shop-prod", deploy_requested("shop", "prod", "rb-d", "", "shop-v2", "carol", "rb1", v2_event));
    head_ = h.add("env-shop-prod", deploy_succeeded("shop", "prod", "rb-d", "", "shop-v2", "rb1"));

    auto runner = ProjectionRunner::open(dir_.path("server"), store_.get());
    ASSERT_TRUE(runner);
    server_ = std::move(*runner);
    ASSERT_TRUE(server_->catch_up());
  }

  TempDir dir_;
  std::unique_ptr<events::EventStore> store_;
  std::unique_ptr<ProjectionRunner> server_;
  uint64_t head_ = 0, tampered_position_ = 0;
};

TEST_F(ExportRoundTrip, ExportVerifyReplayGivesTheSameHistory) {
  events::ExportOptions options;
  options.include = project_filter(*store_, "shop");
  options.filter_description = "project shop";
  const std::string file = dir_.path("shop.wexp");
  auto summary = events::export_events(*store_, file, options);
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_GT(summary->events_omitted, 0u);  // blog's events

  auto verified = events::verify_export(file);
  ASSERT_TRUE(verified.ok) << verified.message;

  auto scratch = ProjectionRunner::open(dir_.path("scratch"), nullptr);
  ASSERT_TRUE(scratch);
  auto replayed = replay_export(file, **scratch);
  ASSERT_TRUE(replayed) << replayed.error().message;
  EXPECT_EQ(replayed->events_applied, summary->events_written);
  EXPECT_EQ((*scratch)->position(), head_);

  Queries server(*server_), offline(**scratch);
  EXPECT_EQ(serialize(*server.list_versions("shop", 0, 100, {})),
            serialize(*offline.list_versions("shop", 0, 100, {})));
  EXPECT_EQ(serialize(*server.environment_history("shop", "prod", {})),
            serialize(*offline.environment_history("shop", "prod", {})));
  EXPECT_EQ(serialize(server.get_run("shop-r2", {})->value),
            serialize(offline.get_run("shop-r2", {})->value));
  // The other project's facts are not in the file.
  EXPECT_FALSE(offline.get_version("blog", "blog-v1", {}));
  EXPECT_TRUE(server.get_version("blog", "blog-v1", {}));

  std::ostringstream report;
  print_deploy_report(report, offline, "", 0, UINT64_MAX, {});
  const std::string text = report.str();
  EXPECT_NE(text.find("rolled back to"), std::string::npos) << text;
  EXPECT_NE(text.find("v3 leaks memory"), std::string::npos) << text;
  EXPECT_NE(text.find("carol"), std::string::npos) << text;
  EXPECT_NE(text.find("bob"), std::string::npos) << text;  // approver
  EXPECT_NE(text.find("deploy FAILED"), std::string::npos) << text;
  EXPECT_EQ(text.find("blog"), std::string::npos) << text;

  std::ostringstream versions;
  print_version_history(versions, offline, "shop", {});
  EXPECT_NE(versions.str().find("shop-v4"), std::string::npos) << versions.str();
}

TEST_F(ExportRoundTrip, ExportOfATimeRangeHoldsOnlyThatRange) {
  auto all = store_->read_all(1, 1000);
  const auto& middle = (*all)[all->size() / 2];
  const uint64_t to = log_position_at_time(*store_, middle.recorded_at_us());
  EXPECT_GE(to, middle.position());
  events::ExportOptions options;
  options.from_position = 5;
  options.to_position = to;
  options.include = project_filter(*store_, "shop");
  const std::string file = dir_.path("range.wexp");
  ASSERT_TRUE(events::export_events(*store_, file, options));
  auto scratch = ProjectionRunner::open(dir_.path("scratch"), nullptr);
  ASSERT_TRUE(scratch);
  auto replayed = replay_export(file, **scratch);
  ASSERT_TRUE(replayed) << replayed.error().message;
  EXPECT_EQ(replayed->header.from_position(), 5u);
  EXPECT_EQ(replayed->header.to_position(), to);
  AuditFilter f;
  f.limit = 1000;
  auto page = Queries(**scratch).audit(f, {});
  ASSERT_GT(page->entries_size(), 0);
  for (const auto& e : page->entries()) {
    EXPECT_GE(e.position(), 5u);
    EXPECT_LE(e.position(), to);
    // Run events whose run began before the range name no project in the
    // file; none belongs to the other project.
    EXPECT_NE(e.project_id(), "blog");
    EXPECT_EQ(e.stream_id().find("blog"), std::string::npos) << e.stream_id();
  }
}

TEST_F(ExportRoundTrip, TamperedExportFailsNamingThePosition) {
  events::ExportOptions options;
  options.include = project_filter(*store_, "shop");
  const std::string file = dir_.path("shop.wexp");
  ASSERT_TRUE(events::export_events(*store_, file, options));
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Change one letter of the commit subject of shop-r3's CommitObserved.
  const std::string needle = "change " + std::string(6, 'd');
  size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'C';
  const std::string bad = dir_.path("tampered.wexp");
  {
    std::ofstream out(bad, std::ios::binary);
    out << bytes;
  }
  auto report = events::verify_export(bad);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, tampered_position_);
  EXPECT_NE(report.message.find(std::to_string(tampered_position_)), std::string::npos)
      << report.message;

  auto scratch = ProjectionRunner::open(dir_.path("scratch"), nullptr);
  ASSERT_TRUE(scratch);
  auto replayed = replay_export(bad, **scratch);
  ASSERT_FALSE(replayed);
  EXPECT_EQ(replayed.error().code, ErrorCode::kCorruption);
  EXPECT_EQ((*scratch)->position(), 0u);  // nothing applied
}

}  // namespace
}  // namespace wharf::projections
