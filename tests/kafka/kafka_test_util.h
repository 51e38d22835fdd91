#pragma once
// Shared by the Kafka unit and integration tests: a temp store, events spread
// over projects, and the checks every test makes on what landed on the topic.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "adapters/kafka/topic_reader.h"
#include "events/event_store.h"
#include "events/hash_chain.h"
#include "events/ids.h"

namespace wharf::kafka::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("wharf-kafka-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<events::EventStore> open_store(const std::string& dir, bool sync = false) {
  events::StoreOptions options;
  options.sync = sync;
  auto store = events::EventStore::open(dir, options);
  if (!store) throw std::runtime_error("open store: " + store.error().message);
  return std::move(store.value());
}

// A CommitObserved of project `project` in run `run`.
inline events::Envelope commit_event(const std::string& project, const std::string& run,
                                     const std::string& sha) {
  events::Envelope e;
  e.set_event_id(events::new_uuid());
  e.set_occurred_at_us(1700000000000000);
  e.mutable_actor()->set_id("tester");
  e.mutable_actor()->set_channel(wharf::v1::CHANNEL_CLI);
  e.set_correlation_id(run);
  auto* commit = e.mutable_payload()->mutable_commit_observed();
  commit->set_project_id(project);
  commit->set_run_id(run);
  commit->set_commit_sha(sha);
  return e;
}

// Appends `count` events spread round-robin over `projects` projects, in
// appends of up to `batch` events per stream. Returns the head position.
inline uint64_t append_events(events::EventStore& store, size_t count, int projects = 5,
                              size_t batch = 50) {
  size_t done = 0;
  int round = 0;
  while (done < count) {
    const std::string project = "proj-" + std::to_string(round % projects);
    const std::string run = project + "-run-" + std::to_string(round);
    std::vector<events::Envelope> events;
    for (size_t i = 0; i < batch && done < count; ++i, ++done) {
      events.push_back(commit_event(project, run, "sha" + std::to_string(done)));
    }
    auto appended = store.append("run-" + run, events::ExpectedVersion::any(), std::move(events));
    if (!appended) throw std::runtime_error("append: " + appended.error().message);
    ++round;
  }
  return store.head_position();
}

// The records of one partition carry strictly increasing positions, every
// project maps to one partition, and each record's value is the stored event.
inline void expect_well_formed(const std::vector<TopicRecord>& records,
                               const events::EventStore& store) {
  std::map<std::string, int32_t> partition_of_key;
  for (const auto& record : records) {
    ASSERT_GT(record.position, 0u) << "record without wharf-position header";
    auto [it, inserted] = partition_of_key.emplace(record.key, record.partition);
    EXPECT_EQ(it->second, record.partition) << "key " << record.key << " in two partitions";
    EXPECT_EQ(record.schema_version, "1");
    auto stored = store.read_all(record.position, 1);
    ASSERT_TRUE(stored && stored->size() == 1) << "position " << record.position;
    const events::Envelope& event = stored->front();
    EXPECT_EQ(record.value, events::serialize_deterministic(event)) << "position " << record.position;
    EXPECT_EQ(record.event_id, event.event_id());
    EXPECT_EQ(record.type, event.type());
    EXPECT_EQ(record.key, event.payload().commit_observed().project_id());
  }
}

// Every position 1..head appears exactly once, and in position order within
// each partition.
inline void expect_exactly_once_in_order(const std::vector<TopicRecord>& records,
                                         uint64_t head) {
  std::map<uint64_t, int> count;
  std::map<int32_t, uint64_t> last;
  for (const auto& record : records) {
    count[record.position]++;
    EXPECT_GT(record.position, last[record.partition])
        << "partition " << record.partition << " offset " << record.offset << " goes back";
    last[record.partition] = record.position;
  }
  size_t missing = 0, duplicated = 0;
  for (uint64_t p = 1; p <= head; ++p) {
    if (count[p] == 0) ++missing;
    if (count[p] > 1) ++duplicated;
  }
  EXPECT_EQ(missing, 0u) << "positions missing from the topic";
  EXPECT_EQ(duplicated, 0u) << "positions on the topic more than once";
  EXPECT_EQ(records.size(), head);
}

// After a restart: every position 1..head is on the topic; positions <= the
// persisted `cursor` exactly once; after the duplicate rule, exactly once and
// in order. Returns how many duplicate records there were.
inline size_t expect_complete_duplicates_only_after(const std::vector<TopicRecord>& records,
                                                    uint64_t head, uint64_t cursor) {
  std::map<uint64_t, int> count;
  for (const auto& record : records) count[record.position]++;
  size_t duplicates = 0;
  for (uint64_t p = 1; p <= head; ++p) {
    EXPECT_GE(count[p], 1) << "position " << p << " missing";
    if (count[p] > 1) {
      duplicates += count[p] - 1;
      EXPECT_GT(p, cursor) << "position " << p << " duplicated although <= cursor " << cursor;
    }
  }
  std::vector<TopicRecord> deduped = in_log_order(records);
  EXPECT_EQ(deduped.size(), head);
  for (size_t i = 0; i < deduped.size(); ++i) {
    if (deduped[i].position != i + 1) {
      ADD_FAILURE() << "after dedup, index " << i << " holds position " << deduped[i].position;
      break;
    }
  }
  return duplicates;
}

}  // namespace wharf::kafka::testing
