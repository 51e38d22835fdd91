// `wharf audit replay-kafka`'s promise: projections rebuilt from the topic
// alone have the same digests as the server's projections built from the
// store. Embedded cluster; label: unit.
#include <gtest/gtest.h>

#include "adapters/kafka/relay.h"
#include "adapters/kafka/topic_audit.h"
#include "projections/runner.h"
#include "tests/kafka/kafka_test_util.h"
#include "tests/projections/random_history.h"

namespace wharf::kafka {
namespace {

using namespace std::chrono_literals;

TEST(ReplayFromKafka, ProjectionsFromTheTopicHaveTheServersDigests) {
  testing::TempDir dir;
  auto store = testing::open_store(dir.sub("store"));
  const uint64_t head = projections::testing::append_random_history(*store, 7, 600);
  ASSERT_GT(head, 0u);

  auto server = projections::ProjectionRunner::open(dir.sub("server"), store.get());
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_TRUE((*server)->catch_up());
  auto server_digests = (*server)->digests();
  ASSERT_TRUE(server_digests);

  auto relay = Relay::create(*store, {});
  ASSERT_TRUE(relay) << relay.error();
  (*relay)->start();
  ASSERT_TRUE((*relay)->wait_delivered(head, std::chrono::steady_clock::now() + 60s));

  auto audit = audit_topic((*relay)->bootstrap_servers(), kDefaultEventsTopic);
  ASSERT_TRUE(audit) << audit.error();
  ASSERT_TRUE(audit->chain_ok) << audit->message;
  ASSERT_EQ(audit->events.size(), head);

  auto offline = projections::ProjectionRunner::open(dir.sub("offline"), nullptr);
  ASSERT_TRUE(offline);
  auto empty_digests = (*offline)->digests();
  ASSERT_TRUE(empty_digests);
  for (size_t i = 0; i < audit->events.size(); i += 100) {
    std::vector<events::Envelope> batch(
        audit->events.begin() + i,
        audit->events.begin() + std::min(audit->events.size(), i + 100));
    ASSERT_TRUE((*offline)->apply(batch));
  }
  EXPECT_EQ((*offline)->position(), head);
  auto offline_digests = (*offline)->digests();
  ASSERT_TRUE(offline_digests);
  EXPECT_EQ(*offline_digests, *server_digests);
  EXPECT_NE(*offline_digests, *empty_digests) << "the history should change every projection";
}

}  // namespace
}  // namespace wharf::kafka
