// audit_topic: the chain recomputed from the topic alone (embedded cluster).
// Label: unit.
#include "adapters/kafka/topic_audit.h"

#include <gtest/gtest.h>

#include "adapters/kafka/embedded_cluster.h"
#include "adapters/kafka/relay.h"
#include "events/hash_chain.h"
#include "tests/kafka/kafka_test_util.h"

namespace wharf::kafka {
namespace {

using namespace std::chrono_literals;

// Copies `records` to `topic` with a bare producer, as someone with write
// access to the topic could; `edit` may change a record on the way.
void copy_records(const std::string& brokers, const std::string& topic,
                  const std::vector<TopicRecord>& records,
                  const std::function<void(TopicRecord&)>& edit) {
  auto conf = make_conf({{"bootstrap.servers", brokers}}, "test-copier");
  ASSERT_TRUE(conf);
  auto producer = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(producer);
  for (TopicRecord r : records) {
    edit(r);
    const std::string position = std::to_string(r.position);
    ASSERT_EQ(rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_PARTITION(r.partition),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                RD_KAFKA_V_VALUE(r.value.data(), r.value.size()),
                                RD_KAFKA_V_HEADER(kHeaderPosition, position.data(),
                                                  static_cast<ssize_t>(position.size())),
                                RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer->get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

class TopicAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::open_store(dir_.path());
    head_ = testing::append_events(*store_, 300, 4);
    auto relay = Relay::create(*store_, {});
    ASSERT_TRUE(relay);
    relay_ = std::move(*relay);
    relay_->start();
    ASSERT_TRUE(relay_->wait_delivered(head_, std::chrono::steady_clock::now() + 60s));
    ASSERT_TRUE(relay_->embedded_cluster()->create_topic("copy", 4));
    auto records = read_topic(brokers(), kDefaultEventsTopic);
    ASSERT_TRUE(records);
    records_ = std::move(*records);
  }
  std::string brokers() const { return relay_->bootstrap_servers(); }

  testing::TempDir dir_;
  std::unique_ptr<events::EventStore> store_;
  uint64_t head_ = 0;
  std::unique_ptr<Relay> relay_;
  std::vector<TopicRecord> records_;
};

TEST_F(TopicAuditTest, RelayedTopicVerifiesToTheStoresHeadHash) {
  auto audit = audit_topic(brokers(), kDefaultEventsTopic);
  ASSERT_TRUE(audit) << audit.error();
  EXPECT_TRUE(audit->chain_ok) << audit->message;
  EXPECT_EQ(audit->records, head_);
  EXPECT_EQ(audit->duplicates, 0u);
  ASSERT_EQ(audit->events.size(), head_);
  EXPECT_EQ(audit->events.back().position(), head_);
  EXPECT_EQ(audit->head_hash, store_->head_hash());
}

TEST_F(TopicAuditTest, ResentRecordsAreDroppedAndTheChainStillVerifies) {
  std::vector<TopicRecord> with_resends = records_;
  // A relay restart resends the tail of a partition.
  for (const auto& r : records_) {
    if (r.position > head_ - 40) with_resends.push_back(r);
  }
  std::stable_sort(with_resends.begin(), with_resends.end(),
                   [](const TopicRecord& a, const TopicRecord& b) { return a.partition < b.partition; });
  copy_records(brokers(), "copy", with_resends, [](TopicRecord&) {});
  auto audit = audit_topic(brokers(), "copy");
  ASSERT_TRUE(audit) << audit.error();
  EXPECT_TRUE(audit->chain_ok) << audit->message;
  EXPECT_EQ(audit->duplicates, 40u);
  EXPECT_EQ(audit->events.size(), head_);
}

TEST_F(TopicAuditTest, AnEditedEventBreaksTheChainAtItsPosition) {
  copy_records(brokers(), "copy", records_, [](TopicRecord& r) {
    if (r.position != 123) return;
    events::Envelope e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    e.mutable_payload()->mutable_commit_observed()->set_commit_sha("forged");
    r.value = events::serialize_deterministic(e);
  });
  auto audit = audit_topic(brokers(), "copy");
  ASSERT_TRUE(audit) << audit.error();
  EXPECT_FALSE(audit->chain_ok);
  EXPECT_EQ(audit->first_bad_position, 123u);
  EXPECT_NE(audit->message.find("123"), std::string::npos) << audit->message;
}

TEST_F(TopicAuditTest, AMissingEventIsNamed) {
  copy_records(brokers(), "copy",
               [&] {
                 std::vector<TopicRecord> without;
                 for (const auto& r : records_) {
                   if (r.position != 77) without.push_back(r);
                 }
                 return without;
               }(),
               [](TopicRecord&) {});
  auto audit = audit_topic(brokers(), "copy");
  ASSERT_TRUE(audit) << audit.error();
  EXPECT_FALSE(audit->chain_ok);
  EXPECT_EQ(audit->first_bad_position, 77u);
}

}  // namespace
}  // namespace wharf::kafka
