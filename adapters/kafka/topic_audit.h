#pragma once
// An auditor's view of the events topic, needing nothing but the brokers:
// read every record, drop the relay's resends by position, and recompute the
// hash chain (events/hash_chain.h) over what is left.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "events/event_store.h"
#include "events/expected.h"

namespace wharf::kafka {

struct TopicAudit {
  std::vector<events::Envelope> events;  // deduplicated, in position order
  uint64_t records = 0;                  // records read, duplicates included
  uint64_t duplicates = 0;               // dropped by the position rule
  bool chain_ok = false;
  uint64_t first_bad_position = 0;       // when !chain_ok and the fault has a position
  std::string message;                   // what was verified, or what is wrong and where
  std::string head_hash;                 // raw hash of the last event (chain_ok)
};

// Reads `topic` and verifies: values decode, positions are dense from 1 (or
// from the first retained record, then saying so), each prev_hash links to
// the previous hash, and each hash recomputes. Fails only when the topic
// cannot be read; a broken chain is reported in the result.
Expected<TopicAudit, std::string> audit_topic(
    const std::string& brokers, const std::string& topic,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace wharf::kafka
