#include "adapters/kafka/topic_audit.h"

#include "adapters/kafka/topic_reader.h"
#include "events/hash_chain.h"

namespace wharf::kafka {
namespace {

void fail(TopicAudit& audit, uint64_t position, const std::string& message) {
  audit.chain_ok = false;
  audit.first_bad_position = position;
  audit.message = message;
}

}  // namespace

Expected<TopicAudit, std::string> audit_topic(const std::string& brokers,
                                              const std::string& topic,
                                              std::chrono::milliseconds timeout) {
  auto records = read_topic(brokers, topic, timeout);
  if (!records) return unexpected(records.error());
  TopicAudit audit;
  audit.records = records->size();
  std::vector<TopicRecord> kept = in_log_order(*records);
  audit.duplicates = audit.records - kept.size();
  audit.chain_ok = true;

  std::string prev_hash;
  uint64_t expected_position = 0;
  audit.events.reserve(kept.size());
  for (const auto& record : kept) {
    events::Envelope event;
    if (!event.ParseFromString(record.value)) {
      fail(audit, record.position, "record at partition " + std::to_string(record.partition) +
                                       " offset " + std::to_string(record.offset) +
                                       " is not an envelope");
      return audit;
    }
    if (event.position() != record.position) {
      fail(audit, record.position, "header position " + std::to_string(record.position) +
                                       " but envelope position " +
                                       std::to_string(event.position()));
      return audit;
    }
    if (expected_position == 0) {
      // The first retained event: position 1 links to the zero hash; a topic
      // whose retention dropped the start links to what its prev_hash says.
      prev_hash = event.position() == 1 ? events::zero_hash() : event.prev_hash();
      expected_position = event.position();
    }
    if (event.position() != expected_position) {
      fail(audit, expected_position,
           "position " + std::to_string(expected_position) + " is missing from the topic");
      return audit;
    }
    if (event.prev_hash() != prev_hash) {
      fail(audit, event.position(),
           "prev_hash of position " + std::to_string(event.position()) + " does not link");
      return audit;
    }
    const std::string hash = events::chain_hash(prev_hash, events::content_digest(event));
    if (hash != event.hash()) {
      fail(audit, event.position(), "hash of position " + std::to_string(event.position()) +
                                        " does not recompute (content changed)");
      return audit;
    }
    prev_hash = hash;
    ++expected_position;
    audit.events.push_back(std::move(event));
  }
  audit.head_hash = prev_hash;
  if (audit.events.empty()) {
    audit.message = "topic " + topic + " holds no events";
  } else {
    const uint64_t first = audit.events.front().position();
    audit.message = "chain verified for positions " + std::to_string(first) + ".." +
                    std::to_string(audit.events.back().position()) +
                    (first == 1 ? "" : " (earlier positions not retained on the topic)");
  }
  return audit;
}

}  // namespace wharf::kafka
