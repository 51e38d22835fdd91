#pragma once
// Protobuf messages as JSON text, written straight from reflection into a
// string: the same bytes as google::protobuf::util::MessageToJsonString with
// preserve_proto_field_names and always_print_primitive_fields (the view
// replies' mapping), at a fraction of the cost (no binary round trip, no
// object-writer tree). Field order is the .proto's declaration order, set
// primitive members of a oneof come last (as protobuf prints them), 64-bit
// integers are quoted, enums are names, strings are escaped like protobuf
// (including <, >, DEL, C1 controls and the invisible code points it
// escapes). Map entries are printed sorted by key (protobuf prints them in
// hash order: same object, stable order). Credential-named values of
// settings maps print as "redacted" (engine::is_settings_map: old events'
// copies; docs/targets.md#the-past), on both paths.
//
// Messages with fields this writer does not print (float/double, the
// google.protobuf well-known types) and strings that are not valid UTF-8 fall
// back to MessageToJsonString, so the output is always protobuf's mapping.
#include <google/protobuf/message.h>

#include <string>

namespace wharf::api {

// Appends `message` as JSON to `out`. Returns false (and leaves `out` as it
// was) if protobuf's printer failed too.
bool append_view_json(const google::protobuf::Message& message, std::string& out);

// The fast path alone: false when the message needs the fallback (`out` then
// holds partial output). For tests.
bool append_view_json_fast(const google::protobuf::Message& message, std::string& out);

}  // namespace wharf::api
