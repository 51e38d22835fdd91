#include "projections/event_fields.h"

namespace wharf::projections {

std::string payload_field(const wharf::v1::Envelope& event, const char* name) {
  const auto& payload = event.payload();
  const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* set = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  if (set == nullptr) return "";
  const auto& message = payload.GetReflection()->GetMessage(payload, set);
  const auto* field = message.GetDescriptor()->FindFieldByName(name);
  if (field == nullptr || field->is_repeated() ||
      field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
    return "";
  }
  return message.GetReflection()->GetString(message, field);
}

}  // namespace wharf::projections
