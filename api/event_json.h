#pragma once
// An Envelope as API JSON: envelope fields plus "data", the payload message in
// protobuf's JSON mapping with proto field names. Secrets' digests
// (TokenIssued.token_sha256, GerritSource.webhook_secret_sha256) are blanked:
// they would let a reader forge webhook signatures or probe tokens; and so
// are credential-named settings of old events (engine::mask_credentials).
#include <boost/json/value.hpp>
#include <functional>
#include <string>

#include "events/event_store.h"

namespace wharf::api {

boost::json::value event_json(const events::Envelope& event);

// For exports: `include` (null = every event) minus the events that hold
// credentials (engine::holds_credentials: settings of old events, webhook
// secrets' hashes), which the export then carries as hash-only placeholders
// — the chain still verifies (docs/targets.md#the-past). Adds a note saying
// so to `description`.
std::function<bool(const events::Envelope&)> without_credentials(
    std::function<bool(const events::Envelope&)> include, std::string& description);
// Any protobuf message in the JSON mapping (proto field names, enums as names).
boost::json::value message_json(const google::protobuf::Message& message);

}  // namespace wharf::api
