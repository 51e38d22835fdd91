#include "adapters/kafka/record_format.h"

#include <charconv>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

namespace wharf::kafka {
namespace {

// The set payload message's `project_id` field, if it has one.
std::string payload_project_id(const wharf::v1::Payload& payload) {
  const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* reflection = payload.GetReflection();
  const auto* field = reflection->GetOneofFieldDescriptor(payload, oneof);
  if (field == nullptr) return {};
  const auto& message = reflection->GetMessage(payload, field);
  const auto* project_field = message.GetDescriptor()->FindFieldByName("project_id");
  if (project_field == nullptr ||
      project_field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      project_field->is_repeated()) {
    return {};
  }
  return message.GetReflection()->GetString(message, project_field);
}

// Streams whose name carries exactly the project id ("project-<id>",
// "access-<id>"). "env-<project>-<env>" is ambiguous when ids hold dashes, so
// it is not split here; its payloads carry project_id anyway.
std::string stream_project_id(const std::string& stream) {
  for (const char* prefix : {"project-", "access-"}) {
    const std::string p(prefix);
    if (stream.size() > p.size() && stream.compare(0, p.size(), p) == 0) {
      return stream.substr(p.size());
    }
  }
  return {};
}

}  // namespace

std::string project_key(const events::Envelope& event) {
  if (std::string id = payload_project_id(event.payload()); !id.empty()) return id;
  if (std::string id = stream_project_id(event.stream_id()); !id.empty()) return id;
  return event.stream_id().empty() ? std::string("-") : event.stream_id();
}

std::optional<uint64_t> parse_position(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value == 0) return std::nullopt;
  return value;
}

}  // namespace wharf::kafka
