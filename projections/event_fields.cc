#include "projections/event_fields.h"

#include <mutex>
#include <string_view>
#include <unordered_map>

namespace wharf::projections {
namespace {

// FindFieldByName hashes strings; every event asks for the same few fields,
// so the answer per (message type, field name) is cached.
const google::protobuf::FieldDescriptor* string_field(const google::protobuf::Descriptor* type,
                                                      const char* name) {
  static std::mutex mu;
  static std::unordered_map<const google::protobuf::Descriptor*,
                            std::unordered_map<std::string_view, const google::protobuf::FieldDescriptor*>>
      cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& fields = cache[type];
  auto it = fields.find(name);
  if (it != fields.end()) return it->second;
  const auto* field = type->FindFieldByName(name);
  if (field != nullptr && (field->is_repeated() ||
                           field->type() != google::protobuf::FieldDescriptor::TYPE_STRING)) {
    field = nullptr;
  }
  fields.emplace(name, field);
  return field;
}

}  // namespace

std::string payload_field(const wharf::v1::Envelope& event, const char* name) {
  const auto& payload = event.payload();
  static const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* set = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  if (set == nullptr) return "";
  const auto& message = payload.GetReflection()->GetMessage(payload, set);
  const auto* field = string_field(message.GetDescriptor(), name);
  if (field == nullptr) return "";
  return message.GetReflection()->GetString(message, field);
}

}  // namespace wharf::projections
