#pragma once
// Small RAII layer over librdkafka's C API, shared by the relay, the embedded
// cluster, the topic reader, the CLI and the tests. Only what wharf uses.
#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events/expected.h"

namespace wharf::kafka {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;

using Properties = std::vector<std::pair<std::string, std::string>>;

// A conf with `properties` set in order (later ones win) and librdkafka's log
// routed to spdlog; client.id defaults to `log_name`. Fails naming the bad property.
Expected<KafkaConf, std::string> make_conf(const Properties& properties,
                                           const std::string& log_name);

// Creates a producer or consumer from `conf` (librdkafka takes the conf on
// success; on failure it is freed here).
Expected<KafkaHandle, std::string> make_handle(rd_kafka_type_t type, KafkaConf conf);

}  // namespace wharf::kafka
