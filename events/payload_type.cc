#include "events/event_store.h"

namespace wharf::events {

std::string payload_type(const wharf::v1::Payload& payload) {
  const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* field = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  return field == nullptr ? std::string() : std::string(field->message_type()->name());
}

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kEventIdConflict: return "event_id_conflict";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCorruption: return "corruption";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kClosed: return "closed";
    case ErrorCode::kNotLeader: return "not_leader";
  }
  return "unknown";
}

}  // namespace wharf::events
