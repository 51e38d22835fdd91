#pragma once
// How one wharf event is laid out as a Kafka record on the events topic.
// Written by the relay, read by auditors, workers and tests. docs/kafka.md.
//   key     = project id (from the payload's project_id, else derived from the
//             stream id, else the stream id itself), so one project's events
//             land in one partition in log order;
//   value   = the Envelope's protobuf bytes, exactly as stored;
//   headers = wharf-event-id, wharf-type, wharf-position (decimal),
//             wharf-schema-version (kSchemaVersion).
#include <cstdint>
#include <optional>
#include <string>

#include "events/event_store.h"

namespace wharf::kafka {

inline constexpr const char* kDefaultEventsTopic = "wharf.events";
inline constexpr const char* kHeaderEventId = "wharf-event-id";
inline constexpr const char* kHeaderType = "wharf-type";
inline constexpr const char* kHeaderPosition = "wharf-position";
inline constexpr const char* kHeaderSchemaVersion = "wharf-schema-version";
// Version of the record layout above; bumped only if key/value/headers change meaning.
inline constexpr const char* kSchemaVersion = "1";

// The record key of `event`: its project id (see above). Never empty.
std::string project_key(const events::Envelope& event);

// One record read back from the topic.
struct TopicRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::string event_id;       // header values; empty when absent
  std::string type;
  std::string schema_version;
  uint64_t position = 0;      // 0 when the header is absent or malformed
};

// Parses a decimal header value; nullopt unless it is a whole positive number.
std::optional<uint64_t> parse_position(const std::string& text);

}  // namespace wharf::kafka
