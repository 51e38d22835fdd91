#pragma once
// The embedded default: librdkafka's in-process Kafka cluster (rdkafka_mock.h).
// It listens on 127.0.0.1 ports of this process and keeps every partition in
// memory, so it is for one machine and does not survive a restart; see
// docs/kafka.md#embedded-kafka. wharf uses it through the very same producer
// and consumer code as a real broker, by its bootstrap address.
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>

#include "adapters/kafka/kafka_client.h"
#include "events/expected.h"

namespace wharf::kafka {

class EmbeddedCluster {
 public:
  // Starts `brokers` in-process brokers. Fails when librdkafka cannot.
  static Expected<std::unique_ptr<EmbeddedCluster>, std::string> start(int brokers = 1);
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  // "127.0.0.1:<port>,..." for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_; }

  // Creates `topic` with `partitions` partitions (the mock broker has no
  // CreateTopics API). Creating an existing topic is a no-op.
  Expected<void, std::string> create_topic(const std::string& topic, int partitions);

  // Simulates an outage: every broker drops connections and refuses new ones
  // until set_down(false). Used by tests.
  void set_down(bool down);

 private:
  EmbeddedCluster(KafkaHandle owner, rd_kafka_mock_cluster_t* cluster);
  KafkaHandle owner_;                  // the cluster lives inside this handle
  rd_kafka_mock_cluster_t* cluster_;   // owned by owner_
  std::string bootstrap_;
};

}  // namespace wharf::kafka
