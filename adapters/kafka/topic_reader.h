#pragma once
// Reading the events topic back: a whole-topic snapshot reader (auditors,
// tests) and the consumer-side duplicate rule that goes with the relay's
// at-least-once-past-the-cursor guarantee (docs/kafka.md#cursor-semantics).
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "adapters/kafka/kafka_client.h"
#include "adapters/kafka/record_format.h"
#include "events/expected.h"

namespace wharf::kafka {

// Reads every record of every partition of `topic`, from the first offset to
// the end as of the call, in (partition, offset) order. Fails when the broker
// cannot be reached or the topic does not exist within `timeout`.
Expected<std::vector<TopicRecord>, std::string> read_topic(
    const std::string& brokers, const std::string& topic,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The consumer's duplicate rule: a record is new only if its wharf-position is
// above the last position accepted from the same partition. The relay resends
// only positions after its cursor, in order, so this drops exactly the resends.
class PositionDeduper {
 public:
  // True when `record` should be processed; false for a duplicate.
  bool accept(const TopicRecord& record);
  uint64_t duplicates() const { return duplicates_; }

 private:
  std::map<int32_t, uint64_t> last_by_partition_;
  uint64_t duplicates_ = 0;
};

// Records after the duplicate rule, merged across partitions into log
// (position) order.
std::vector<TopicRecord> in_log_order(const std::vector<TopicRecord>& records);

}  // namespace wharf::kafka
