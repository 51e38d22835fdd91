// Digests: the live state (fed by a Subscription while events are appended),
// a rebuild in place, a rebuild of one projection and a fresh replay in
// another directory all give the same digest per projection. Checkpoints
// survive a reopen and the runner resumes from them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "projections/keys.h"
#include "projections/queries.h"
#include "projections/runner.h"
#include "tests/projections/random_history.h"
#include "tests/projections/snapshot.h"

namespace wharf::projections {
namespace {

using namespace testing;
using Digests = std::vector<std::pair<std::string, std::string>>;

Digests digests_of(const ProjectionRunner& runner) {
  auto d = runner.digests();
  EXPECT_TRUE(d);
  return d ? *d : Digests{};
}

TEST(Rebuild, LiveRebuiltAndFreshDigestsAreEqual) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  append_random_history(*store, 7, 100);

  auto live = ProjectionRunner::open(dir.path("live"), store.get());
  ASSERT_TRUE(live);
  ASSERT_TRUE((*live)->start());
  // Appends while the subscription follows the log.
  std::thread writer([&] { append_random_history(*store, 8, 150); });
  writer.join();
  const uint64_t head = store->head_position();
  ASSERT_TRUE((*live)->wait_for(head, std::chrono::seconds(60)));
  (*live)->stop();
  ASSERT_EQ((*live)->position(), head);
  for (const auto& [name, pos] : (*live)->positions()) EXPECT_EQ(pos, head) << name;
  const Digests live_digests = digests_of(**live);
  ASSERT_EQ(live_digests.size(), 7u);
  const std::string live_snapshot = snapshot(Queries(**live), {});

  auto fresh = ProjectionRunner::open(dir.path("fresh"), store.get());
  ASSERT_TRUE(fresh);
  ASSERT_EQ(*(*fresh)->catch_up(), head);
  EXPECT_EQ(digests_of(**fresh), live_digests);
  EXPECT_EQ(snapshot(Queries(**fresh), {}), live_snapshot);

  // Rebuild in place, twice, and one projection alone.
  for (int i = 0; i < 2; ++i) {
    auto reached = (*live)->rebuild({});
    ASSERT_TRUE(reached) << reached.error().message;
    EXPECT_EQ(*reached, head);
    EXPECT_EQ(digests_of(**live), live_digests);
  }
  uint64_t progress_calls = 0;
  ASSERT_TRUE((*live)->rebuild({"environments"}, [&](uint64_t, uint64_t) { ++progress_calls; }));
  EXPECT_GT(progress_calls, 0u);
  EXPECT_EQ(digests_of(**live), live_digests);

  auto unknown = (*live)->rebuild({"nope"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
}

TEST(Rebuild, DigestCoversStateAndCheckpoint) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  const uint64_t head = append_random_history(*store, 3, 80);
  auto a = ProjectionRunner::open(dir.path("a"), store.get());
  auto b = ProjectionRunner::open(dir.path("b"), store.get());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->catch_up());
  // b stops one event short: every projection that saw the last event differs
  // and all differ in their checkpoint.
  auto events = store->read_all(1, head - 1);
  ASSERT_TRUE((*b)->apply(*events));
  auto da = digests_of(**a), db = digests_of(**b);
  for (size_t i = 0; i < da.size(); ++i) EXPECT_NE(da[i].second, db[i].second) << da[i].first;
  ASSERT_TRUE((*b)->catch_up());
  EXPECT_EQ(digests_of(**b), da);
}

TEST(Rebuild, ResumesFromCheckpointAfterReopen) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  const uint64_t head = append_random_history(*store, 11, 120);
  auto events = store->read_all(1, head);
  {
    auto runner = ProjectionRunner::open(dir.path("p"), store.get());
    ASSERT_TRUE(runner);
    std::vector<wharf::v1::Envelope> first_half(events->begin(), events->begin() + 50);
    ASSERT_TRUE((*runner)->apply(first_half));
  }
  auto runner = ProjectionRunner::open(dir.path("p"), store.get());
  ASSERT_TRUE(runner);
  EXPECT_EQ((*runner)->position(), 50u);
  // Re-applying what is already there changes nothing.
  ASSERT_TRUE((*runner)->apply(*events));
  EXPECT_EQ((*runner)->position(), head);
  auto fresh = ProjectionRunner::open(dir.path("fresh"), store.get());
  ASSERT_TRUE((*fresh)->catch_up());
  EXPECT_EQ(digests_of(**runner), digests_of(**fresh));
}

TEST(Rebuild, ForeignDirectoryIsRefused) {
  TempDir dir;
  std::filesystem::create_directories(dir.path("x"));
  {
    std::ofstream junk(dir.path("x/notes.txt"));
    junk << "not a database";
  }
  auto runner = ProjectionRunner::open(dir.path("x"), nullptr);
  ASSERT_FALSE(runner);
  EXPECT_EQ(runner.error().code, ErrorCode::kCorruption);
  EXPECT_TRUE(std::filesystem::exists(dir.path("x/notes.txt")));
}

TEST(Rebuild, ChangedSchemaVersionResetsTheProjection) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  const uint64_t head = append_random_history(*store, 5, 40);
  Digests before;
  {
    auto runner = ProjectionRunner::open(dir.path("p"), store.get());
    ASSERT_TRUE((*runner)->catch_up());
    before = digests_of(**runner);
    // Pretend older code wrote "runs".
    auto* db = (*runner)->db().db();
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), (*runner)->db().cf("runs"),
                        rocksdb::Slice(keys::kSchema.data(), keys::kSchema.size()), "0")
                    .ok());
  }
  auto runner = ProjectionRunner::open(dir.path("p"), store.get());
  ASSERT_TRUE(runner);
  EXPECT_EQ((*runner)->position("runs"), 0u);
  EXPECT_EQ((*runner)->position("audit"), head);
  ASSERT_TRUE((*runner)->catch_up());
  EXPECT_EQ(digests_of(**runner), before);
}

// The runs, environments and audit layouts changed (steps as their own keys,
// no duplicated in_flight, no time keys): a directory written by the previous
// versions is rebuilt at open, never misread.
TEST(Rebuild, PreviousLayoutVersionsAreRebuiltAtOpen) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  const uint64_t head = append_random_history(*store, 6, 40);
  Digests before;
  {
    auto runner = ProjectionRunner::open(dir.path("p"), store.get());
    ASSERT_TRUE((*runner)->catch_up());
    before = digests_of(**runner);
    auto* db = (*runner)->db().db();
    for (const auto& [name, old_version] : {std::pair<std::string, std::string>{"runs", "1"},
                                            {"environments", "1"},
                                            {"audit", "2"}}) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), (*runner)->db().cf(name),
                          rocksdb::Slice(keys::kSchema.data(), keys::kSchema.size()), old_version)
                      .ok());
    }
  }
  auto runner = ProjectionRunner::open(dir.path("p"), store.get());
  ASSERT_TRUE(runner);
  EXPECT_EQ((*runner)->position("runs"), 0u);
  EXPECT_EQ((*runner)->position("environments"), 0u);
  EXPECT_EQ((*runner)->position("audit"), 0u);
  EXPECT_EQ((*runner)->position("versions"), head);
  ASSERT_TRUE((*runner)->catch_up());
  EXPECT_EQ(digests_of(**runner), before);
}

// Time -> position when the folded events have gaps (a filtered export
// replayed without a store): the position just before the next later entry.
TEST(Rebuild, PositionAtTimeWithGapsInTheFoldedEvents) {
  TempDir dir;
  auto runner = ProjectionRunner::open(dir.path("p"), nullptr);
  ASSERT_TRUE(runner);
  std::vector<Envelope> events;
  for (auto [position, at] :
       {std::pair<uint64_t, int64_t>{5, 100}, {9, 200}, {12, 200}, {20, 300}}) {
    Envelope& e = events.emplace_back();
    e.set_position(position);
    e.set_recorded_at_us(at);
    e.set_event_id("e" + std::to_string(position));
    e.set_stream_id("project-p");
    *e.mutable_payload() = project_created("p" + std::to_string(position), {"prod"}, "alice");
  }
  ASSERT_TRUE((*runner)->apply(events));
  EXPECT_EQ((*runner)->position_at_time(50), 0u);
  EXPECT_EQ((*runner)->position_at_time(100), 8u);
  EXPECT_EQ((*runner)->position_at_time(150), 8u);
  EXPECT_EQ((*runner)->position_at_time(200), 19u);
  EXPECT_EQ((*runner)->position_at_time(299), 19u);
  EXPECT_EQ((*runner)->position_at_time(300), 20u);
  EXPECT_EQ((*runner)->position_at_time(1000), 20u);
}

// A rebuild from position 0 writes SST files and ingests them (bulk); the
// WriteBatch path (bulk off) is the reference: the same digests and answers
// with one segment or many, one fold thread or several, for every projection
// at once or a few while the others are current.
TEST(Rebuild, BulkFromZeroEqualsTheWriteBatchPath) {
  TempDir dir;
  auto store = open_store(dir.path("log"));
  ASSERT_TRUE(store);
  append_random_history(*store, 11, 900);
  const uint64_t head = append_random_history(*store, 12, 300);

  RunnerOptions reference_options;
  reference_options.bulk_segment_bytes = 0;
  reference_options.batch_events = 64;
  auto reference = ProjectionRunner::open(dir.path("reference"), store.get(), reference_options);
  ASSERT_TRUE(reference);
  ASSERT_EQ(*(*reference)->catch_up(), head);
  const Digests want = digests_of(**reference);
  ASSERT_EQ(want.size(), 7u);
  const std::string answers = snapshot(Queries(**reference), {});

  struct Case {
    const char* name;
    size_t segment_bytes;
    size_t threads;
    size_t batch_events;
  };
  int cases = 0;
  for (const Case& c : {Case{"one segment, two threads", size_t{1} << 30, 2, 8192},
                        Case{"many segments, one thread", 4096, 1, 50},
                        Case{"many segments, more threads than cores", 20000, 4, 128}}) {
    SCOPED_TRACE(c.name);
    RunnerOptions options;
    options.bulk_segment_bytes = c.segment_bytes;
    options.bulk_threads = c.threads;
    options.batch_events = c.batch_events;
    auto bulk =
        ProjectionRunner::open(dir.path("bulk-" + std::to_string(++cases)), store.get(), options);
    ASSERT_TRUE(bulk);
    std::vector<uint64_t> progress;
    auto reached =
        (*bulk)->catch_up([&](uint64_t position, uint64_t) { progress.push_back(position); });
    ASSERT_TRUE(reached) << reached.error().message;
    EXPECT_EQ(*reached, head);
    EXPECT_EQ(digests_of(**bulk), want);
    EXPECT_EQ(snapshot(Queries(**bulk), {}), answers);
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.back(), head);
    EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
    if (c.segment_bytes < 100000) {
      EXPECT_GT(progress.size(), 2u) << "several segments ingested";
    }
    for (const auto& [name, pos] : (*bulk)->positions()) EXPECT_EQ(pos, head) << name;
  }

  // Rebuild a few in place (bulk) while the others stay current, then more
  // events arrive and catch_up takes the WriteBatch path for all of them.
  auto partial = ProjectionRunner::open(dir.path("partial"), store.get());
  ASSERT_TRUE(partial);
  ASSERT_TRUE((*partial)->catch_up());
  ASSERT_TRUE((*partial)->rebuild({"audit", "runs"}));
  EXPECT_EQ(digests_of(**partial), want);
  const uint64_t later = append_random_history(*store, 13, 200);
  ASSERT_EQ(*(*reference)->catch_up(), later);
  ASSERT_EQ(*(*partial)->catch_up(), later);
  EXPECT_EQ(digests_of(**partial), digests_of(**reference));
  EXPECT_FALSE(
      std::filesystem::exists(std::filesystem::path(dir.path("partial")) / "bulk" / "audit-0.sst"));
}

}  // namespace
}  // namespace wharf::projections
