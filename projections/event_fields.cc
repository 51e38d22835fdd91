#include "projections/event_fields.h"

#include <cstring>
#include <vector>

namespace wharf::projections {
namespace {

// Every payload message's string fields, built once (immutable afterwards,
// so no lock): indexed by the payload's oneof field number, then a short
// list of (name, field) compared by strcmp — cheaper per event than
// FindFieldByName or a hash map.
struct Fields {
  std::vector<std::vector<std::pair<std::string, const google::protobuf::FieldDescriptor*>>> by_number;
  const google::protobuf::OneofDescriptor* oneof = nullptr;
};

const Fields& fields() {
  static const Fields table = [] {
    Fields t;
    const auto* payload = wharf::v1::Payload::descriptor();
    t.oneof = payload->FindOneofByName("kind");
    for (int i = 0; i < t.oneof->field_count(); ++i) {
      const auto* kind = t.oneof->field(i);
      if (kind->message_type() == nullptr) continue;
      if (static_cast<size_t>(kind->number()) >= t.by_number.size()) t.by_number.resize(kind->number() + 1);
      auto& list = t.by_number[kind->number()];
      const auto* type = kind->message_type();
      for (int f = 0; f < type->field_count(); ++f) {
        const auto* field = type->field(f);
        if (field->is_repeated() || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) continue;
        list.emplace_back(field->name(), field);
      }
    }
    return t;
  }();
  return table;
}

}  // namespace

std::string payload_field(const wharf::v1::Envelope& event, const char* name) {
  const auto& payload = event.payload();
  const auto& t = fields();
  const auto* set = payload.GetReflection()->GetOneofFieldDescriptor(payload, t.oneof);
  if (set == nullptr || static_cast<size_t>(set->number()) >= t.by_number.size()) return "";
  for (const auto& [field_name, field] : t.by_number[set->number()]) {
    if (std::strcmp(field_name.c_str(), name) != 0) continue;
    const auto& message = payload.GetReflection()->GetMessage(payload, set);
    return message.GetReflection()->GetString(message, field);
  }
  return "";
}

}  // namespace wharf::projections
