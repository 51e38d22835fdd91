// Cluster mode in the store (docs/cluster.md): a leader's appends pass a
// ReplicationGate before they are written; a follower applies the leader's
// stored records with apply_replicated, verifying chain, positions, stream
// versions and event ids, and stops on the first record that does not fit.
#include <gtest/gtest.h>

#include <mutex>

#include "events/event_store.h"
#include "events/hash_chain.h"
#include "tests/events/test_util.h"

namespace wharf::events {
namespace {

using testing::make_event;
using testing::TempDir;

// Stands in for Kafka: keeps what was "published", in order.
class RecordingGate : public ReplicationGate {
 public:
  bool accepting(std::string& why) const override {
    std::lock_guard lock(mu_);
    if (!leading_) why = "not the leader (test)";
    return leading_;
  }
  Expected<Meta, std::string> publish(uint64_t first_position,
                                      const std::vector<std::string>& records) override {
    std::lock_guard lock(mu_);
    if (!fail_next_.empty()) {
      std::string why = std::move(fail_next_);
      fail_next_.clear();
      return unexpected(why);
    }
    EXPECT_EQ(first_position, log_.size() + 1);
    log_.insert(log_.end(), records.begin(), records.end());
    return Meta{{"cluster.offset", std::to_string(log_.size())}};
  }
  void set_leading(bool leading) {
    std::lock_guard lock(mu_);
    leading_ = leading;
  }
  void fail_next(std::string why) {
    std::lock_guard lock(mu_);
    fail_next_ = std::move(why);
  }
  std::vector<std::string> log() const {
    std::lock_guard lock(mu_);
    return log_;
  }

 private:
  mutable std::mutex mu_;
  bool leading_ = true;
  std::string fail_next_;
  std::vector<std::string> log_;
};

std::unique_ptr<EventStore> open_with(const std::string& dir, ReplicationGate* gate) {
  StoreOptions options;
  options.sync = false;
  options.gate = gate;
  auto store = EventStore::open(dir, options);
  EXPECT_TRUE(store) << store.error().message;
  return std::move(*store);
}

// Re-chains `records` (as decoded envelopes) from `prev`, as a writer would.
std::vector<std::string> rechain(std::vector<Envelope> events, std::string prev) {
  std::vector<std::string> out;
  for (auto& e : events) {
    e.set_prev_hash(prev);
    e.set_hash(chain_hash(prev, content_digest(e)));
    prev = e.hash();
    out.push_back(serialize_deterministic(e));
  }
  return out;
}

std::vector<Envelope> decode(const std::vector<std::string>& records) {
  std::vector<Envelope> out;
  for (const auto& r : records) {
    Envelope e;
    EXPECT_TRUE(e.ParseFromString(r));
    out.push_back(std::move(e));
  }
  return out;
}

class Replication : public ::testing::Test {
 protected:
  // Leader with 4 events over two streams, published through the gate.
  void SetUp() override {
    leader_ = open_with(dir_.sub("leader"), &gate_);
    ASSERT_TRUE(
        leader_->append("project-a", ExpectedVersion::no_stream(), {make_event(), make_event()}));
    ASSERT_TRUE(leader_->append("project-b", ExpectedVersion::no_stream(), {make_event()}));
    ASSERT_TRUE(leader_->append("project-a", ExpectedVersion::exact(2), {make_event()}));
    follower_ = open_with(dir_.sub("follower"), nullptr);
  }

  TempDir dir_;
  RecordingGate gate_;
  std::unique_ptr<EventStore> leader_;
  std::unique_ptr<EventStore> follower_;
};

TEST_F(Replication, FollowerCopyIsIdenticalAndOffsetIsStoredWithIt) {
  const auto records = gate_.log();
  ASSERT_EQ(records.size(), 4u);
  auto applied = follower_->apply_replicated(records, {{"cluster.offset", "4"}});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(applied->first_position, 1u);
  EXPECT_EQ(applied->last_position, 4u);
  EXPECT_EQ(follower_->head_position(), 4u);
  EXPECT_EQ(follower_->head_hash(), leader_->head_hash());
  EXPECT_EQ(follower_->stream_version("project-a"), 3u);
  EXPECT_EQ(*follower_->get_meta("cluster.offset"), "4");
  auto copy = follower_->read_all(1, 10);
  auto original = leader_->read_all(1, 10);
  ASSERT_TRUE(copy && original);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(serialize_deterministic((*copy)[i]), serialize_deterministic((*original)[i]));
  }
  // The idempotency index is rebuilt: the leader's retry of an id is found
  // on the follower too (same digest of the caller's content).
  auto e = (*original)[3];
  EXPECT_EQ(follower_->read_event(e.event_id())->position(), 4u);
  // A resend of what the follower has is skipped and changes nothing.
  auto again = follower_->apply_replicated(records, {{"cluster.offset", "9"}});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->already_present);
  EXPECT_EQ(*follower_->get_meta("cluster.offset"), "4");
}

TEST_F(Replication, LeaderSkipsItsOwnRecordsComingBack) {
  auto back = leader_->apply_replicated(gate_.log(), {});
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->already_present);
  EXPECT_EQ(leader_->head_position(), 4u);
  // ...and still appends after it.
  ASSERT_TRUE(leader_->append("project-b", ExpectedVersion::exact(1), {make_event()}));
  EXPECT_EQ(gate_.log().size(), 5u);
}

TEST_F(Replication, NotLeadingRefusesAppendsAndWritesNothing) {
  gate_.set_leading(false);
  auto refused = leader_->append("project-a", ExpectedVersion::any(), {make_event()});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotLeader);
  EXPECT_EQ(leader_->head_position(), 4u);
  EXPECT_EQ(gate_.log().size(), 4u);
}

TEST_F(Replication, FailedPublishWritesNothingAndTheNextAppendReusesThePosition) {
  gate_.fail_next("fenced (test)");
  auto failed = leader_->append("project-a", ExpectedVersion::exact(3), {make_event()});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kNotLeader);
  EXPECT_NE(failed.error().message.find("fenced (test)"), std::string::npos);
  EXPECT_EQ(leader_->head_position(), 4u);
  // The staged version 4 of project-a was forgotten: exact(3) holds again.
  auto next = leader_->append("project-a", ExpectedVersion::exact(3), {make_event()});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->first_position, 5u);
  EXPECT_EQ(next->stream_version, 4u);
  auto copy = follower_->apply_replicated(gate_.log(), {});
  ASSERT_TRUE(copy) << copy.error().message;
  EXPECT_EQ(follower_->head_hash(), leader_->head_hash());
}

TEST_F(Replication, MissingRecordStopsTheFollower) {
  auto records = gate_.log();
  records.erase(records.begin() + 1);  // a torn transaction: position 2 missing
  auto applied = follower_->apply_replicated(records, {});
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(applied.error().position, 3u);
  EXPECT_NE(applied.error().message.find("expected position 2"), std::string::npos);
  EXPECT_EQ(follower_->head_position(), 0u);  // nothing of the batch was written
  // Stopped: even the correct records are refused now.
  EXPECT_FALSE(follower_->apply_replicated(gate_.log(), {}));
  EXPECT_FALSE(follower_->append("x", ExpectedVersion::any(), {make_event()}));
}

TEST_F(Replication, ReorderedRecordsStopTheFollower) {
  auto records = gate_.log();
  ASSERT_TRUE(follower_->apply_replicated({records[0], records[1]}, {}));
  std::swap(records[2], records[3]);
  auto applied = follower_->apply_replicated({records[2], records[3]}, {});
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(follower_->head_position(), 2u);
}

TEST_F(Replication, EditedContentStopsTheFollower) {
  auto events = decode(gate_.log());
  events[2].mutable_actor()->set_id("mallory");  // hashes left as they were
  std::vector<std::string> records;
  for (const auto& e : events) records.push_back(serialize_deterministic(e));
  auto applied = follower_->apply_replicated(records, {});
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().position, 3u);
  EXPECT_NE(applied.error().message.find("does not match its content"), std::string::npos);
}

TEST_F(Replication, StreamVersionGapStopsTheFollowerEvenWithAValidChain) {
  auto events = decode(gate_.log());
  events[3].set_stream_version(5);  // project-a 2 -> 5, re-chained so hashes verify
  auto applied = follower_->apply_replicated(rechain(events, zero_hash()), {});
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().position, 4u);
  EXPECT_NE(applied.error().message.find("version 5 after version 2"), std::string::npos);
}

TEST_F(Replication, DuplicateEventIdStopsTheFollower) {
  auto events = decode(gate_.log());
  events[3].set_event_id(events[0].event_id());
  auto applied = follower_->apply_replicated(rechain(events, zero_hash()), {});
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("already at position 1"), std::string::npos);
}

TEST_F(Replication, DivergedCopyOfAKnownPositionStopsTheFollower) {
  ASSERT_TRUE(follower_->apply_replicated(gate_.log(), {}));
  auto events = decode(gate_.log());
  events[1].mutable_actor()->set_id("other-writer");
  auto applied = follower_->apply_replicated(rechain(events, zero_hash()), {});
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("diverged"), std::string::npos);
}

}  // namespace
}  // namespace wharf::events
