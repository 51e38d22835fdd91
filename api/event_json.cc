#include "api/event_json.h"

#include <google/protobuf/util/json_util.h>

#include <boost/json/parse.hpp>

#include "engine/target.h"
#include "events/hash_chain.h"

namespace wharf::api {

namespace json = boost::json;

json::value message_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) return json::object();
  return json::parse(text);
}

std::function<bool(const events::Envelope&)> without_credentials(
    std::function<bool(const events::Envelope&)> include, std::string& description) {
  description += std::string(description.empty() ? "" : "; ") +
                 "events holding credentials (old settings, webhook secret hashes) are "
                 "placeholders";
  return [include = std::move(include)](const events::Envelope& e) {
    return !engine::holds_credentials(e.payload()) && (!include || include(e));
  };
}

json::value event_json(const events::Envelope& event) {
  json::object out;
  out["position"] = event.position();
  out["stream"] = event.stream_id();
  out["stream_version"] = event.stream_version();
  out["event_id"] = event.event_id();
  out["type"] = event.type();
  out["occurred_at_us"] = event.occurred_at_us();
  out["recorded_at_us"] = event.recorded_at_us();
  out["actor"] = json::object{{"id", event.actor().id()},
                              {"channel", wharf::v1::Channel_Name(event.actor().channel())}};
  out["correlation_id"] = event.correlation_id();
  out["causation_id"] = event.causation_id();
  out["hash"] = events::to_hex(event.hash());

  wharf::v1::Payload payload = event.payload();
  if (payload.has_token_issued()) payload.mutable_token_issued()->set_token_sha256("redacted");
  // Credentials old events hold in settings, and webhook secrets' hashes
  // (docs/targets.md#the-past).
  engine::mask_credentials(payload);
  const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* set = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  out["data"] = set == nullptr ? json::value(json::object())
                               : message_json(payload.GetReflection()->GetMessage(payload, set));
  return out;
}

}  // namespace wharf::api
