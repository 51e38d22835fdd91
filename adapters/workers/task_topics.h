#pragma once
// Where tasks and results travel, shared by `wharf serve --workers kafka` and
// `wharf worker`, and the properties both sides give librdkafka.
#include <string>

#include "adapters/kafka/kafka_client.h"
#include "events/expected.h"

namespace wharf::workers {

struct TaskTopics {
  std::string bootstrap;                  // bootstrap.servers
  std::string tasks = "wharf.tasks";      // serve -> workers, keyed by run
  std::string results = "wharf.results";  // workers -> serve
  int partitions = 6;                     // upper bound on useful workers
};

// Creates both topics with `partitions` partitions when they do not exist
// (Admin API). An existing topic is fine; other failures are returned.
Expected<void, std::string> ensure_topics(const TaskTopics& topics, int replication_factor = 1);

// Producer settings for both directions: idempotent, acks=all, never expire a
// record (a broker outage delays tasks, it does not drop them).
kafka::Properties producer_properties(const TaskTopics& topics);

}  // namespace wharf::workers
