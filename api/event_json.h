#pragma once
// An Envelope as API JSON: envelope fields plus "data", the payload message in
// protobuf's JSON mapping with proto field names. Secrets' digests
// (TokenIssued.token_sha256, GerritSource.webhook_secret_sha256) are blanked:
// they would let a reader forge webhook signatures or probe tokens.
#include <boost/json/value.hpp>
#include <string>

#include "events/event_store.h"

namespace wharf::api {

boost::json::value event_json(const events::Envelope& event);
// Any protobuf message in the JSON mapping (proto field names, enums as names).
boost::json::value message_json(const google::protobuf::Message& message);

}  // namespace wharf::api
