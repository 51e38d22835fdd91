#include "api/event_json.h"

#include <google/protobuf/util/json_util.h>

#include <boost/json/parse.hpp>

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

namespace {

void blank_secret(wharf::v1::RepositoryBinding* binding) {
  if (binding->has_gerrit() && !binding->gerrit().webhook_secret_sha256().empty()) {
    binding->mutable_gerrit()->set_webhook_secret_sha256("redacted");
  }
}

}  // namespace

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
  if (payload.has_project_created()) blank_secret(payload.mutable_project_created()->mutable_repository());
  if (payload.has_repository_bound()) {
    blank_secret(payload.mutable_repository_bound()->mutable_repository());
  }
  const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* set = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  out["data"] = set == nullptr ? json::value(json::object())
                               : message_json(payload.GetReflection()->GetMessage(payload, set));
  return out;
}

}  // namespace wharf::api
