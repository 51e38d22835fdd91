#include "adapters/kafka/topic_reader.h"

#include <algorithm>
#include <set>
#include <thread>

namespace wharf::kafka {
namespace {

using Clock = std::chrono::steady_clock;

std::string header_value(rd_kafka_headers_t* headers, const char* name) {
  const void* value = nullptr;
  size_t size = 0;
  if (headers == nullptr ||
      rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return {};
  }
  return std::string(static_cast<const char*>(value), size);
}

TopicRecord to_record(rd_kafka_message_t* msg) {
  TopicRecord record;
  record.partition = msg->partition;
  record.offset = msg->offset;
  if (msg->key != nullptr) record.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload != nullptr) {
    record.value.assign(static_cast<const char*>(msg->payload), msg->len);
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    record.event_id = header_value(headers, kHeaderEventId);
    record.type = header_value(headers, kHeaderType);
    record.schema_version = header_value(headers, kHeaderSchemaVersion);
    record.position = parse_position(header_value(headers, kHeaderPosition)).value_or(0);
  }
  return record;
}

}  // namespace

Expected<std::vector<TopicRecord>, std::string> read_topic(const std::string& brokers,
                                                           const std::string& topic,
                                                           std::chrono::milliseconds timeout) {
  auto conf = make_conf({{"bootstrap.servers", brokers},
                         {"group.id", "wharf-topic-reader"},
                         {"enable.auto.commit", "false"},
                         {"enable.partition.eof", "true"},
                         {"auto.offset.reset", "earliest"}},
                        "wharf-reader");
  if (!conf) return unexpected(conf.error());
  auto consumer = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!consumer) return unexpected(consumer.error());
  rd_kafka_t* rk = consumer->get();
  const auto deadline = Clock::now() + timeout;
  auto remaining_ms = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };

  // Partitions of the topic (metadata retried until the deadline: the broker
  // may still be starting or the topic still being created).
  int partitions = 0;
  std::string last_error = "no metadata";
  while (partitions == 0 && Clock::now() < deadline) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk, 0, handle, &metadata, std::min(remaining_ms(), 5000));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topic_cnt == 1 &&
        metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      partitions = metadata->topics[0].partition_cnt;
    } else {
      last_error = err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(err)
                   : metadata->topic_cnt == 1        ? rd_kafka_err2str(metadata->topics[0].err)
                                                     : "topic missing";
    }
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(handle);
    if (partitions == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (partitions == 0) return unexpected("reading topic " + topic + " at " + brokers + ": " + last_error);

  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t assigned = rd_kafka_assign(rk, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (assigned != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unexpected(std::string("assign: ") + rd_kafka_err2str(assigned));
  }

  std::vector<TopicRecord> records;
  std::set<int32_t> at_end;
  while (static_cast<int>(at_end.size()) < partitions) {
    if (Clock::now() >= deadline) {
      rd_kafka_assign(rk, nullptr);
      return unexpected("reading topic " + topic + ": timed out with " +
                        std::to_string(records.size()) + " records read");
    }
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 100);
    if (msg == nullptr) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(msg->partition);
    } else if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      at_end.erase(msg->partition);
      records.push_back(to_record(msg));
    } else if (rd_kafka_message_errstr(msg) != nullptr && msg->err != RD_KAFKA_RESP_ERR__TRANSPORT) {
      last_error = rd_kafka_message_errstr(msg);
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_assign(rk, nullptr);
  rd_kafka_consumer_close(rk);
  std::stable_sort(records.begin(), records.end(), [](const TopicRecord& a, const TopicRecord& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return records;
}

bool PositionDeduper::accept(const TopicRecord& record) {
  uint64_t& last = last_by_partition_[record.partition];
  if (record.position <= last) {
    duplicates_++;
    return false;
  }
  last = record.position;
  return true;
}

std::vector<TopicRecord> in_log_order(const std::vector<TopicRecord>& records) {
  PositionDeduper deduper;
  std::vector<TopicRecord> kept;
  kept.reserve(records.size());
  for (const auto& record : records) {
    if (deduper.accept(record)) kept.push_back(record);
  }
  std::sort(kept.begin(), kept.end(),
            [](const TopicRecord& a, const TopicRecord& b) { return a.position < b.position; });
  return kept;
}

}  // namespace wharf::kafka
