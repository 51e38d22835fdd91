#include "adapters/kafka/embedded_cluster.h"

namespace wharf::kafka {

Expected<std::unique_ptr<EmbeddedCluster>, std::string> EmbeddedCluster::start(int brokers) {
  // `test.mock.num.brokers` makes the handle own a mock cluster; the handle is
  // never used to produce, it only keeps the cluster alive.
  auto conf = make_conf({{"test.mock.num.brokers", std::to_string(brokers)}}, "wharf-embedded");
  if (!conf) return unexpected(conf.error());
  auto handle = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!handle) return unexpected(handle.error());
  rd_kafka_mock_cluster_t* cluster = rd_kafka_handle_mock_cluster(handle->get());
  if (cluster == nullptr) return unexpected(std::string("librdkafka did not create a mock cluster"));
  return std::unique_ptr<EmbeddedCluster>(new EmbeddedCluster(std::move(*handle), cluster));
}

EmbeddedCluster::EmbeddedCluster(KafkaHandle owner, rd_kafka_mock_cluster_t* cluster)
    : owner_(std::move(owner)),
      cluster_(cluster),
      bootstrap_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

EmbeddedCluster::~EmbeddedCluster() = default;

Expected<void, std::string> EmbeddedCluster::create_topic(const std::string& topic,
                                                          int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return unexpected("embedded kafka: create topic " + topic + ": " + rd_kafka_err2str(err));
  }
  return {};
}

void EmbeddedCluster::set_down(bool down) {
  if (down) {
    rd_kafka_mock_broker_set_down(cluster_, -1);
  } else {
    rd_kafka_mock_broker_set_up(cluster_, -1);
  }
}

}  // namespace wharf::kafka
