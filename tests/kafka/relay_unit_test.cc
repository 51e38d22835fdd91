// The relay against librdkafka's in-process cluster (the embedded default):
// same producer code path as against a real broker. Label: unit.
#include <gtest/gtest.h>

#include <thread>

#include "adapters/kafka/embedded_cluster.h"
#include "adapters/kafka/record_format.h"
#include "adapters/kafka/relay.h"
#include "adapters/kafka/topic_reader.h"
#include "tests/kafka/kafka_test_util.h"

namespace wharf::kafka {
namespace {

using namespace std::chrono_literals;
using testing::append_events;
using testing::open_store;
using testing::TempDir;

constexpr auto kDeadline = 60s;

std::chrono::steady_clock::time_point deadline() {
  return std::chrono::steady_clock::now() + kDeadline;
}

std::unique_ptr<Relay> make_relay(events::EventStore& store, RelayOptions options) {
  auto relay = Relay::create(store, std::move(options));
  if (!relay) throw std::runtime_error(relay.error());
  return std::move(*relay);
}

std::vector<TopicRecord> read_all_records(const std::string& brokers, const std::string& topic) {
  auto records = read_topic(brokers, topic, 30s);
  if (!records) throw std::runtime_error(records.error());
  return std::move(*records);
}

TEST(RecordFormat, KeyIsThePayloadsProjectId) {
  auto event = testing::commit_event("alpha", "alpha-run-1", "abc");
  event.set_stream_id("run-alpha-run-1");
  EXPECT_EQ(project_key(event), "alpha");
}

TEST(RecordFormat, KeyFallsBackToProjectStreamThenStreamId) {
  events::Envelope token;
  token.mutable_payload()->mutable_token_issued()->set_token_id("t1");
  token.set_stream_id("access-beta");
  EXPECT_EQ(project_key(token), "beta");
  token.set_stream_id("tokens");
  EXPECT_EQ(project_key(token), "tokens");
  token.set_stream_id("");
  EXPECT_EQ(project_key(token), "-");
}

TEST(RecordFormat, ParsePositionAcceptsOnlyWholePositiveNumbers) {
  EXPECT_EQ(parse_position("42"), 42u);
  EXPECT_FALSE(parse_position(""));
  EXPECT_FALSE(parse_position("0"));
  EXPECT_FALSE(parse_position("12x"));
  EXPECT_FALSE(parse_position("-3"));
}

TEST(PositionDeduper, DropsPositionsNotAboveTheLastOfThePartition) {
  PositionDeduper dedup;
  auto record = [](int32_t partition, uint64_t position) {
    TopicRecord r;
    r.partition = partition;
    r.position = position;
    return r;
  };
  EXPECT_TRUE(dedup.accept(record(0, 1)));
  EXPECT_TRUE(dedup.accept(record(1, 2)));
  EXPECT_TRUE(dedup.accept(record(0, 3)));
  EXPECT_FALSE(dedup.accept(record(0, 3)));  // resent after a restart
  EXPECT_FALSE(dedup.accept(record(0, 1)));
  EXPECT_TRUE(dedup.accept(record(1, 4)));
  EXPECT_EQ(dedup.duplicates(), 2u);
}

TEST(EmbeddedRelay, NoBrokersMeansEmbeddedClusterAndEveryEventOnceInOrder) {
  TempDir dir;
  auto store = open_store(dir.path());
  const uint64_t head = append_events(*store, 2000, 7);
  auto relay = make_relay(*store, {});
  ASSERT_TRUE(relay->embedded());
  EXPECT_EQ(relay->stats().mode, "embedded");
  relay->start();
  ASSERT_TRUE(relay->wait_delivered(head, deadline())) << relay->stats().last_error;

  auto records = read_all_records(relay->bootstrap_servers(), kDefaultEventsTopic);
  testing::expect_exactly_once_in_order(records, head);
  testing::expect_well_formed(records, *store);
  std::set<int32_t> partitions;
  for (const auto& r : records) partitions.insert(r.partition);
  EXPECT_GT(partitions.size(), 1u) << "7 projects over 4 partitions should use several";

  relay->stop();
  EXPECT_EQ(store->get_meta("kafka.relay.cursor/embedded/wharf.events").value(),
            std::to_string(head));
  EXPECT_EQ(relay->stats().persisted_cursor, head);
}

// Moving from the embedded default to a real broker relays the whole log to
// the broker: the embedded cursor belongs to a topic that died with it.
TEST(EmbeddedRelay, EmbeddedCursorDoesNotSkipEventsOnARealBroker) {
  TempDir dir;
  auto store = open_store(dir.path());
  const uint64_t head = append_events(*store, 200, 3);
  {
    auto embedded = make_relay(*store, {});
    embedded->start();
    ASSERT_TRUE(embedded->wait_delivered(head, deadline()));
    embedded->stop();
  }
  auto cluster = EmbeddedCluster::start();  // stands in for a real broker here
  ASSERT_TRUE(cluster);
  RelayOptions options;
  options.brokers = (*cluster)->bootstrap_servers();
  auto relay = make_relay(*store, options);
  EXPECT_EQ(relay->stats().persisted_cursor, 0u);
  relay->start();
  ASSERT_TRUE(relay->wait_delivered(head, deadline()));
  testing::expect_exactly_once_in_order(read_all_records(options.brokers, kDefaultEventsTopic),
                                        head);
}

TEST(EmbeddedRelay, LiveAppendsAreRelayedAsTheyHappen) {
  TempDir dir;
  auto store = open_store(dir.path());
  RelayOptions options;
  options.topic = "live.events";
  auto relay = make_relay(*store, options);
  relay->start();
  for (int i = 0; i < 20; ++i) {
    const uint64_t head = append_events(*store, 25, 3, 5);
    ASSERT_TRUE(relay->wait_delivered(head, deadline()));
  }
  auto records = read_all_records(relay->bootstrap_servers(), "live.events");
  testing::expect_exactly_once_in_order(records, store->head_position());
  EXPECT_EQ(relay->stats().lag_events, 0u);
}

TEST(EmbeddedRelay, OutageNeverBlocksAppendsAndTheRelayCatchesUpWithoutGapOrDuplicate) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto relay = make_relay(*store, {});
  relay->start();
  uint64_t head = append_events(*store, 300, 4);
  ASSERT_TRUE(relay->wait_delivered(head, deadline()));

  relay->embedded_cluster()->set_down(true);
  // Appends keep succeeding while Kafka is unreachable.
  head = append_events(*store, 1500, 4, 10);
  EXPECT_EQ(head, 1800u);
  std::this_thread::sleep_for(300ms);  // let the relay try and fail
  RelayStats during = relay->stats();
  EXPECT_GT(during.lag_events, 0u);
  EXPECT_LT(during.delivered_position, head);

  relay->embedded_cluster()->set_down(false);
  head = append_events(*store, 200, 4);
  ASSERT_TRUE(relay->wait_delivered(head, deadline())) << relay->stats().last_error;
  auto records = read_all_records(relay->bootstrap_servers(), kDefaultEventsTopic);
  testing::expect_exactly_once_in_order(records, head);
  testing::expect_well_formed(records, *store);
}

TEST(EmbeddedRelay, RestartResumesAfterThePersistedCursor) {
  TempDir dir;
  auto cluster = EmbeddedCluster::start();
  ASSERT_TRUE(cluster);
  ASSERT_TRUE((*cluster)->create_topic("resume.events", 3));
  RelayOptions options;
  options.brokers = (*cluster)->bootstrap_servers();
  options.topic = "resume.events";
  {
    auto store = open_store(dir.path());
    const uint64_t head = append_events(*store, 500, 5);
    auto relay = make_relay(*store, options);
    EXPECT_FALSE(relay->embedded());
    relay->start();
    ASSERT_TRUE(relay->wait_delivered(head, deadline()));
    relay->stop();
    EXPECT_EQ(relay->stats().persisted_cursor, head);
  }
  auto store = open_store(dir.path());
  const uint64_t head = append_events(*store, 300, 5);
  auto relay = make_relay(*store, options);
  EXPECT_EQ(relay->stats().persisted_cursor, 500u);
  relay->start();
  ASSERT_TRUE(relay->wait_delivered(head, deadline()));
  auto records = read_all_records(options.brokers, options.topic);
  testing::expect_exactly_once_in_order(records, head);
}

// A crash can leave the persisted cursor behind what Kafka acknowledged (it is
// written at most every persist_interval). The restart resends after the
// cursor: duplicates only there, and the consumer rule drops them.
TEST(EmbeddedRelay, CursorBehindDeliveryDuplicatesOnlyPastTheCursor) {
  TempDir dir;
  auto cluster = EmbeddedCluster::start();
  ASSERT_TRUE(cluster);
  ASSERT_TRUE((*cluster)->create_topic("crash.events", 4));
  RelayOptions options;
  options.brokers = (*cluster)->bootstrap_servers();
  options.topic = "crash.events";
  auto store = open_store(dir.path());
  uint64_t head = append_events(*store, 400, 6);
  {
    auto relay = make_relay(*store, options);
    relay->start();
    ASSERT_TRUE(relay->wait_delivered(head, deadline()));
    relay->stop();
  }
  // What a crash between delivery and the cursor write leaves behind.
  ASSERT_TRUE(store->put_meta("kafka.relay.cursor/crash.events", "250"));
  head = append_events(*store, 100, 6);
  auto relay = make_relay(*store, options);
  relay->start();
  ASSERT_TRUE(relay->wait_delivered(head, deadline()));
  auto records = read_all_records(options.brokers, options.topic);
  const size_t duplicates = testing::expect_complete_duplicates_only_after(records, head, 250);
  EXPECT_EQ(duplicates, 150u) << "positions 251..400 were sent twice";
}

TEST(EmbeddedRelay, UnreachableBrokerLeavesAppendsAndStopUnaffected) {
  TempDir dir;
  auto store = open_store(dir.path());
  RelayOptions options;
  options.brokers = "127.0.0.1:1";  // nothing listens there
  auto relay = make_relay(*store, options);
  relay->start();
  const uint64_t head = append_events(*store, 1000, 3);
  EXPECT_EQ(head, 1000u);
  EXPECT_FALSE(relay->wait_delivered(1, std::chrono::steady_clock::now() + 500ms));
  RelayStats stats = relay->stats();
  EXPECT_EQ(stats.delivered_position, 0u);
  EXPECT_EQ(stats.lag_events, 1000u);
  EXPECT_GE(stats.lag_ms, 0);
  relay->stop(200ms);
  EXPECT_FALSE(store->get_meta("kafka.relay.cursor/wharf.events"));
}

TEST(EmbeddedRelay, CorruptCursorIsRefused) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->put_meta("kafka.relay.cursor/embedded/wharf.events", "not-a-number"));
  auto relay = Relay::create(*store, {});
  ASSERT_FALSE(relay);
  EXPECT_NE(relay.error().find("not-a-number"), std::string::npos);
}

TEST(EmbeddedRelay, BadProducerPropertyIsRefusedAtCreate) {
  TempDir dir;
  auto store = open_store(dir.path());
  RelayOptions options;
  options.producer_properties = {{"no.such.property", "1"}};
  auto relay = Relay::create(*store, options);
  ASSERT_FALSE(relay);
  EXPECT_NE(relay.error().find("no.such.property"), std::string::npos);
}

TEST(EmbeddedRelay, MetricsNameLagAndCursor) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto relay = make_relay(*store, {});
  const uint64_t head = append_events(*store, 10, 2);
  const std::string before = relay->metrics_text();
  EXPECT_NE(before.find("wharf_kafka_relay_lag_events{topic=\"wharf.events\",mode=\"embedded\"} 10"),
            std::string::npos)
      << before;
  relay->start();
  ASSERT_TRUE(relay->wait_delivered(head, deadline()));
  relay->stop();
  const std::string after = relay->metrics_text();
  EXPECT_NE(after.find("wharf_kafka_relay_lag_events{topic=\"wharf.events\",mode=\"embedded\"} 0"),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("wharf_kafka_relay_cursor{topic=\"wharf.events\",mode=\"embedded\"} 10"),
            std::string::npos);
}

}  // namespace
}  // namespace wharf::kafka
