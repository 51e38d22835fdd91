// The ingestor against a real store and the runtime's command bus: qualifying
// samples become CommitObserved (with a run and a build request), noise does
// not, one Gerrit event seen twice (other shape, other transport, after a
// restart) is one CommitObserved, bad lines never stop the stream.
#include "adapters/gerrit/ingestor.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/gerrit/bus_sink.h"
#include "adapters/gerrit/stream_file.h"

#include <sstream>
#include "tests/gerrit/fixture.h"
#include "tests/gerrit/store_fixture.h"

namespace wharf::gerrit {
namespace {

namespace json = boost::json;
using testing::sample;
using testing::samples;

constexpr int64_t kNow = 1'800'000'000'000'000;
constexpr int64_t kHold = 5'000'000;

std::string webhook_shape(const std::string& line) {
  json::object o = json::parse(line).as_object();
  if (auto* p = o.if_contains("project"); p && p->is_string()) {
    json::object name;
    name["name"] = p->get_string();
    o["project"] = std::move(name);
  }
  if (auto* k = o.if_contains("changeKey"); k && k->is_object() && k->as_object().contains("id")) {
    json::object key;
    key["key"] = k->as_object().at("id");
    o["changeKey"] = std::move(key);
  }
  return json::serialize(o);
}

class GerritIngestor : public ::testing::Test {
 protected:
  GerritIngestor() : sink_(fx_.bus()) {}

  std::unique_ptr<Ingestor> make(int64_t hold_us = kHold) {
    IngestOptions options;
    options.host = "review.example.org";
    options.ref_update_hold_us = hold_us;
    options.limits.max_line_bytes = 64 * 1024;
    return std::make_unique<Ingestor>(options, fx_.bindings(), sink_, probe_);
  }

  void bind_sample_projects() {
    fx_.create_project("qtbase", "qt/qtbase");
    fx_.create_project("qtopcua", "qt/qtopcua", {"dev"});
    fx_.create_project("coin", "qtqa/tqtc-coin-ci");
    fx_.create_project("testrepo", "TestRepo", {"test_*"});
    fx_.create_project("testrepo1", "TestRepo1");
    fx_.create_project("storj", "storj/storj", {}, {"recheck"});
  }

  testing::StoreFixture fx_;
  BusCommitSink sink_;
  IngestProbe probe_{"review.example.org"};
};

TEST_F(GerritIngestor, RealSamplesBecomeRunsAndNoiseDoesNot) {
  bind_sample_projects();
  auto ingestor = make();
  std::map<Outcome, int> outcomes;
  for (const auto& line : samples()) outcomes[ingestor->ingest_line(line, "gerrit-file", kNow)]++;
  EXPECT_EQ(outcomes[Outcome::kHeld], 2);  // lines 3 and 17: branch ref-updates
  EXPECT_EQ(ingestor->flush(), 2u);

  std::set<std::string> seen;
  for (const auto& c : fx_.commits()) seen.insert(c.project_id() + "@" + c.commit_sha());
  const std::set<std::string> expected = {
      "qtbase@41d29efb4196d5fd447190d3b8ec26d70b9f8eec",     // 2: change-merged (2.x)
      "coin@a80ed61a98fd0a1d13eab95252db189cdeb0fe96",       // 3: ref-updated "master"
      "qtopcua@0316904a4a5274166e8b785b09c1727aa6485ede",    // 4: patchset-created
      "testrepo@0c8c548ca93b44dd501c000ebb79ecc8f9aa4bd6",   // 17: branch created
      "testrepo1@b59138869113bfd9d3e7fbf9439d74e1ae6c54b8",  // 19: patchset-created (webhook)
      "testrepo@4c688da535ea3352536e3b320880aa353bd404b2",   // 21: change-merged newRev
  };
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(fx_.count("CommitObserved"), 6u);
  EXPECT_EQ(fx_.count("PipelineRunStarted"), 6u);
  EXPECT_EQ(fx_.count("BuildRequested"), 6u);

  IngestStats stats = probe_.snapshot();
  EXPECT_EQ(stats.lines, 29u);
  EXPECT_EQ(stats.observed, 6u);
  EXPECT_EQ(stats.unknown_types, 1u);  // change-deferred
  EXPECT_EQ(stats.dropped_output, 1u);
  EXPECT_EQ(stats.events_by_type["ref-updated"], 7u);
  EXPECT_EQ(stats.bad_lines, 0u);
  for (const auto& c : fx_.commits()) {
    EXPECT_EQ(c.source(), "gerrit-file");
    EXPECT_TRUE(c.dedup_key().starts_with("gerrit:review.example.org:"));
  }
}

TEST_F(GerritIngestor, SameEventFromStreamAndWebhookIsOneRun) {
  bind_sample_projects();
  auto ingestor = make();
  EXPECT_EQ(ingestor->ingest_line(sample(21), "gerrit-webhook", kNow), Outcome::kObserved);
  std::string stream = sample(21);
  // The stream-events shape of the same event.
  json::object o = json::parse(stream).as_object();
  o["project"] = "TestRepo";
  o["changeKey"] = json::object{{"id", "I55862204ef71f69bc88c79fe2259f7cb8365699a"}};
  EXPECT_EQ(ingestor->ingest_line(json::serialize(o), "gerrit-stream", kNow),
            Outcome::kDeduplicated);
  EXPECT_EQ(ingestor->ingest_line(webhook_shape(sample(4)), "gerrit-webhook", kNow),
            Outcome::kObserved);
  EXPECT_EQ(ingestor->ingest_line(sample(4), "gerrit-stream", kNow), Outcome::kDeduplicated);
  EXPECT_EQ(fx_.count("CommitObserved"), 2u);
  EXPECT_EQ(probe_.snapshot().deduplicated, 2u);
}

TEST_F(GerritIngestor, ReplayAfterRestartAddsNothing) {
  bind_sample_projects();
  {
    auto first = make();
    for (const auto& line : samples()) (void)first->ingest_line(line, "gerrit-stream", kNow);
    first->flush();
  }
  ASSERT_EQ(fx_.count("CommitObserved"), 6u);
  uint64_t head = fx_.store().head_position();
  // A new ingestor has an empty window: only the log's idempotency stands.
  auto second = make();
  for (const auto& line : samples()) {
    Outcome o = second->ingest_line(webhook_shape(line), "gerrit-catchup", kNow);
    EXPECT_NE(o, Outcome::kObserved) << line;
  }
  second->flush();
  EXPECT_EQ(fx_.count("CommitObserved"), 6u);
  EXPECT_EQ(fx_.store().head_position(), head);
}

TEST_F(GerritIngestor, MergeRefUpdateBeforeChangeMergedStartsOneRun) {
  fx_.create_project("demo", "demo");
  auto ingestor = make();
  auto session = testing::read_lines("gerrit-3.10-session.jsonl");
  for (const auto& line : session) (void)ingestor->ingest_line(line, "gerrit-stream", kNow);
  EXPECT_EQ(ingestor->release_held(kNow + kHold), 0u);  // the master update was the merge's
  auto commits = fx_.commits();
  ASSERT_EQ(commits.size(), 2u);  // patchset-created, change-merged
  EXPECT_EQ(commits[0].ref(), "refs/changes/01/1/1");
  EXPECT_EQ(commits[1].ref(), "refs/heads/master");
  EXPECT_EQ(commits[1].change_number(), 1u);
}

TEST_F(GerritIngestor, DirectPushIsReleasedAfterTheHold) {
  fx_.create_project("demo", "demo");
  auto ingestor = make();
  const std::string push =
      R"({"submitter":{"name":"A","username":"a"},"refUpdate":{"oldRev":"4155373c5735b5a0e2ec1cad4c3af4558c483297",)"
      R"("newRev":"1111111111111111111111111111111111111111","refName":"refs/heads/master","project":"demo"},)"
      R"("type":"ref-updated","eventCreatedOn":1795672100})";
  EXPECT_EQ(ingestor->ingest_line(push, "gerrit-stream", kNow), Outcome::kHeld);
  EXPECT_EQ(ingestor->ingest_line(push, "gerrit-webhook", kNow + 1), Outcome::kDeduplicated);
  EXPECT_EQ(ingestor->release_held(kNow + kHold - 1), 0u);
  EXPECT_EQ(fx_.count("CommitObserved"), 0u);
  EXPECT_EQ(ingestor->release_held(kNow + kHold), 1u);
  ASSERT_EQ(fx_.count("CommitObserved"), 1u);
  EXPECT_EQ(fx_.commits()[0].author().username(), "a");
}

TEST_F(GerritIngestor, BadLinesAreCountedAndTheStreamGoesOn) {
  bind_sample_projects();
  auto ingestor = make();
  EXPECT_EQ(ingestor->ingest_line("{not json", "gerrit-stream", kNow), Outcome::kBadLine);
  EXPECT_EQ(ingestor->ingest_line("[]", "gerrit-stream", kNow), Outcome::kBadLine);
  EXPECT_EQ(ingestor->ingest_line(std::string(70 * 1024, '{'), "gerrit-stream", kNow),
            Outcome::kTooLarge);
  EXPECT_EQ(ingestor->ingest_line("", "gerrit-stream", kNow), Outcome::kEmpty);
  EXPECT_EQ(ingestor->ingest_line(sample(4), "gerrit-stream", kNow), Outcome::kObserved);
  IngestStats s = probe_.snapshot();
  EXPECT_EQ(s.bad_lines, 2u);
  EXPECT_EQ(s.too_large, 1u);
  EXPECT_EQ(s.observed, 1u);
}

TEST_F(GerritIngestor, TriggerWordsStartARunPerComment) {
  fx_.create_project("storj", "storj/storj", {}, {"recheck"});
  auto ingestor = make();
  json::object o = json::parse(sample(14)).as_object();
  EXPECT_EQ(ingestor->ingest_line(json::serialize(o), "gerrit-stream", kNow), Outcome::kNotBound);
  o["comment"] = "Patch Set 14:\n\nrecheck";
  EXPECT_EQ(ingestor->ingest_line(json::serialize(o), "gerrit-stream", kNow), Outcome::kObserved);
  EXPECT_EQ(ingestor->ingest_line(json::serialize(o), "gerrit-webhook", kNow),
            Outcome::kDeduplicated);
  o["eventCreatedOn"] = 1574210999;  // a second "recheck", later
  EXPECT_EQ(ingestor->ingest_line(json::serialize(o), "gerrit-stream", kNow), Outcome::kObserved);
  EXPECT_EQ(fx_.count("CommitObserved"), 2u);
  EXPECT_EQ(fx_.count("BuildRequested"), 2u);
}

TEST_F(GerritIngestor, DroppedOutputAsksForCatchUp) {
  auto ingestor = make();
  int calls = 0;
  ingestor->on_dropped_output([&] { ++calls; });
  EXPECT_EQ(ingestor->ingest_line(sample(29), "gerrit-stream", kNow), Outcome::kDroppedOutput);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ingestor->ingest_line(sample(8), "gerrit-stream", kNow), Outcome::kUnknownType);
  EXPECT_EQ(ingestor->ingest_line(sample(8), "gerrit-stream", kNow), Outcome::kUnknownType);
  EXPECT_EQ(probe_.snapshot().unknown_types, 2u);
}

TEST_F(GerritIngestor, AsyncSinkRecordsOnceAndCountsInTheProbe) {
  bind_sample_projects();
  IngestOptions options;
  options.host = "review.example.org";
  options.ref_update_hold_us = 0;
  options.async_sink = true;
  Ingestor ingestor(options, fx_.bindings(), sink_, probe_);
  for (const auto& line : samples()) (void)ingestor.ingest_line(line, "gerrit-stream", kNow);
  for (const auto& line : samples()) {
    EXPECT_NE(ingestor.ingest_line(webhook_shape(line), "gerrit-webhook", kNow),
              Outcome::kSubmitted);  // all inside the window
  }
  fx_.bus().drain();
  EXPECT_EQ(fx_.count("CommitObserved"), 6u);
  EXPECT_EQ(probe_.snapshot().observed, 6u);
  // A fresh window (restart): submitted again, recorded as already observed.
  Ingestor restarted(options, fx_.bindings(), sink_, probe_);
  EXPECT_EQ(restarted.ingest_line(sample(21), "gerrit-catchup", kNow), Outcome::kSubmitted);
  fx_.bus().drain();
  EXPECT_EQ(fx_.count("CommitObserved"), 6u);
  EXPECT_EQ(probe_.snapshot().observed, 6u);
}

TEST_F(GerritIngestor, SavedStreamFileGoesThroughTheSamePath) {
  bind_sample_projects();
  auto ingestor = make();
  std::string file;
  for (const auto& line : samples()) file += line + "\n";
  file += std::string(200 * 1024, 'x') + "\n";  // over the 64 KiB limit, never held whole
  file += "{broken\r\n";
  file += sample(4);                              // duplicate, and no trailing newline
  std::istringstream in(file);
  int64_t now = kNow;
  StreamFileReport report = ingest_stream(in, *ingestor, "gerrit-file", [&] { return now++; },
                                          64 * 1024);
  EXPECT_EQ(report.lines, 32u);
  EXPECT_EQ(report.count(Outcome::kTooLarge), 1u);
  EXPECT_EQ(report.count(Outcome::kBadLine), 1u);
  EXPECT_EQ(report.count(Outcome::kDeduplicated), 1u);
  EXPECT_EQ(fx_.count("CommitObserved"), 6u);  // held ref-updates flushed at the end
  EXPECT_NE(to_json(report).find("\"too_large\":1"), std::string::npos);
}

TEST(GerritProbe, StatsRoundTripThroughJson) {
  IngestProbe probe("h");
  probe.event("patchset-created", 1700000000, 5);
  probe.reconnect();
  probe.set_state("streaming", true, 7);
  IngestStats s = probe.snapshot(9);
  auto back = stats_from_json(to_json(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->host, "h");
  EXPECT_TRUE(back->connected);
  EXPECT_EQ(back->reconnects, 1u);
  EXPECT_EQ(back->last_event_created_s, 1700000000);
  EXPECT_EQ(back->events_by_type["patchset-created"], 1u);
  EXPECT_NE(to_prometheus(s).find("wharf_gerrit_connected{host=\"h\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace wharf::gerrit
