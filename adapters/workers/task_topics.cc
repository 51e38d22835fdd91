#include "adapters/workers/task_topics.h"

#include <librdkafka/rdkafka.h>

#include <memory>
#include <vector>

namespace wharf::workers {
namespace {

struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};

}  // namespace

kafka::Properties producer_properties(const TaskTopics& topics) {
  return {{"bootstrap.servers", topics.bootstrap},
          {"enable.idempotence", "true"},
          {"acks", "all"},
          {"message.timeout.ms", "0"},
          {"linger.ms", "1"},
          {"partitioner", "murmur2_random"},
          {"reconnect.backoff.max.ms", "2000"}};
}

Expected<void, std::string> ensure_topics(const TaskTopics& topics, int replication_factor) {
  auto conf = kafka::make_conf({{"bootstrap.servers", topics.bootstrap}}, "wharf-task-admin");
  if (!conf) return unexpected(conf.error());
  auto admin = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!admin) return unexpected(admin.error());

  char error[512];
  std::vector<std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>> owned;
  std::vector<rd_kafka_NewTopic_t*> requests;
  for (const std::string& name : {topics.tasks, topics.results}) {
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(name.c_str(), topics.partitions,
                                                   replication_factor, error, sizeof(error));
    if (t == nullptr) return unexpected("topic " + name + ": " + error);
    owned.emplace_back(t);
    requests.push_back(t);
  }
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(admin->get()));
  rd_kafka_CreateTopics(admin->get(), requests.data(), requests.size(), nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(rd_kafka_queue_poll(queue.get(), 30000));
  if (!event) return unexpected(std::string("no answer from Kafka to CreateTopics within 30 s"));
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unexpected(std::string("CreateTopics: ") + rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      continue;
    return unexpected(std::string("topic ") + rd_kafka_topic_result_name(results[i]) + ": " +
                      rd_kafka_err2str(err));
  }
  return {};
}

}  // namespace wharf::workers
