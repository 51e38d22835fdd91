#include "api/proto_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/target.h"

namespace wharf::api {

namespace pb = google::protobuf;

namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_u16_escape(std::string& out, uint32_t unit) {
  const char text[6] = {'\\', 'u', kHex[(unit >> 12) & 0xf], kHex[(unit >> 8) & 0xf],
                        kHex[(unit >> 4) & 0xf], kHex[unit & 0xf]};
  out.append(text, sizeof text);
}

// Code points above U+009F that protobuf's JsonEscaping writes as \u escapes.
bool protobuf_escapes(uint32_t cp) {
  switch (cp) {
    case 0xfeff: case 0xfff9: case 0xfffa: case 0xfffb: case 0x00ad: case 0x06dd:
    case 0x070f: case 0x17b4: case 0x17b5:
      return true;
    default:
      break;
  }
  return (cp >= 0x0600 && cp <= 0x0603) || (cp >= 0x200b && cp <= 0x200f) ||
         (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
         (cp >= 0x206a && cp <= 0x206f) || cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) ||
         (cp >= 0xe0020 && cp <= 0xe007f);
}

// A JSON string literal as protobuf writes it. False on invalid UTF-8 (what
// protobuf does with it is lossy; the caller falls back to protobuf).
bool append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Longest run that needs no escaping.
    size_t j = i;
    while (j < n) {
      const auto c = static_cast<unsigned char>(s[j]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>') break;
      ++j;
    }
    out.append(s.data() + i, j - i);
    i = j;
    if (i == n) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\b': out.append("\\b"); break;
        case '\t': out.append("\\t"); break;
        case '\n': out.append("\\n"); break;
        case '\f': out.append("\\f"); break;
        case '\r': out.append("\\r"); break;
        default: append_u16_escape(out, c); break;  // other controls, <, >, DEL
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence, decoded as protobuf's ReadCodePoint does.
    uint32_t cp = 0;
    size_t len = 0;
    if (c <= 0xbf) return false;
    if (c <= 0xdf) {
      cp = c & 0x1f;
      len = 2;
    } else if (c <= 0xef) {
      cp = c & 0x0f;
      len = 3;
    } else if (c <= 0xf7) {
      cp = c & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if (cc < 0x80 || cc > 0xbf) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((cp & 0xfffff800) == 0xd800 || cp > 0x10ffff) return false;  // surrogate, out of range
    if (cp < 0xa0) {
      append_u16_escape(out, cp);  // C1 controls (and overlong forms of ASCII)
    } else if (protobuf_escapes(cp)) {
      if (cp >= 0x10000) {
        append_u16_escape(out, ((cp - 0x10000) >> 10) + 0xd800);
        append_u16_escape(out, ((cp - 0x10000) & 0x3ff) + 0xdc00);
      } else {
        append_u16_escape(out, cp);
      }
    } else {
      out.append(s.data() + i, len);
    }
    i += len;
  }
  out.push_back('"');
  return true;
}

template <typename T>
void append_number(std::string& out, T value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, static_cast<size_t>(end - buf));
}

template <typename T>
void append_quoted_number(std::string& out, T value) {
  out.push_back('"');
  append_number(out, value);
  out.push_back('"');
}

void append_base64(std::string& out, std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.push_back('"');
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(data[i]) << 16) |
                       (static_cast<uint8_t>(data[i + 1]) << 8) | static_cast<uint8_t>(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (const size_t rest = data.size() - i; rest > 0) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(data[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  out.push_back('"');
}

void append_enum(std::string& out, const pb::EnumDescriptor* type, int number) {
  if (const auto* value = type->FindValueByNumber(number)) {
    out.push_back('"');
    out.append(value->name());  // identifiers: nothing to escape
    out.push_back('"');
  } else {
    append_number(out, number);
  }
}

bool supported(const pb::FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return false;  // protobuf's float formatting is not reproduced here
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      // Well-known types have special JSON forms (Timestamp, Any, wrappers...).
      return field->message_type()->file()->package() != "google.protobuf";
    default:
      return true;
  }
}

bool append_message(std::string& out, const pb::Message& message);

// One value of a singular field, or element `index` of a repeated one.
bool append_value(std::string& out, const pb::Message& message, const pb::FieldDescriptor* field,
                  int index) {
  const auto* r = message.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      append_number(out, rep ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field));
      return true;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      append_number(out,
                    rep ? r->GetRepeatedUInt32(message, field, index) : r->GetUInt32(message, field));
      return true;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      append_quoted_number(
          out, rep ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field));
      return true;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      append_quoted_number(
          out, rep ? r->GetRepeatedUInt64(message, field, index) : r->GetUInt64(message, field));
      return true;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      out.append((rep ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field))
                     ? "true"
                     : "false");
      return true;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      append_enum(out, field->enum_type(),
                  rep ? r->GetRepeatedEnumValue(message, field, index)
                      : r->GetEnumValue(message, field));
      return true;
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& value = rep ? r->GetRepeatedStringReference(message, field, index, &scratch)
                                     : r->GetStringReference(message, field, &scratch);
      if (field->type() == pb::FieldDescriptor::TYPE_BYTES) {
        append_base64(out, value);
        return true;
      }
      return append_string(out, value);
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return append_message(out, rep ? r->GetRepeatedMessage(message, field, index)
                                     : r->GetMessage(message, field));
    default:
      return false;
  }
}

// A map field as an object, entries sorted by their key's JSON text.
bool append_map(std::string& out, const pb::Message& message, const pb::FieldDescriptor* field) {
  const auto* r = message.GetReflection();
  const int size = r->FieldSize(message, field);
  const auto* key_field = field->message_type()->map_key();
  const auto* value_field = field->message_type()->map_value();
  if (!supported(value_field)) return false;
  std::vector<std::pair<std::string, int>> keys;
  keys.reserve(static_cast<size_t>(size));
  // Settings maps show credential-named values masked (old events' copies).
  const bool settings = engine::is_settings_map(field);
  std::vector<bool> masked(static_cast<size_t>(size), false);
  for (int i = 0; i < size; ++i) {
    const auto& entry = r->GetRepeatedMessage(message, field, i);
    std::string key;
    if (key_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
      const std::string raw = entry.GetReflection()->GetString(entry, key_field);
      masked[static_cast<size_t>(i)] = settings && engine::credential_named(raw);
      if (!append_string(key, raw)) return false;
    } else {
      // Integer and bool keys are quoted in JSON.
      std::string text;
      if (!append_value(text, entry, key_field, -1)) return false;
      if (text.front() != '"') text = '"' + text + '"';
      key = std::move(text);
    }
    keys.emplace_back(std::move(key), i);
  }
  std::sort(keys.begin(), keys.end());
  out.push_back('{');
  bool first = true;
  for (const auto& [key, i] : keys) {
    if (!first) out.push_back(',');
    first = false;
    out.append(key);
    out.push_back(':');
    if (masked[static_cast<size_t>(i)]) {
      out.append("\"").append(engine::kMasked).append("\"");
      continue;
    }
    if (!append_value(out, r->GetRepeatedMessage(message, field, i), value_field, -1)) return false;
  }
  out.push_back('}');
  return true;
}

void append_name(std::string& out, const pb::FieldDescriptor* field, bool& first) {
  if (!first) out.push_back(',');
  first = false;
  out.push_back('"');
  out.append(field->name());
  out.append("\":");
}

bool append_field(std::string& out, const pb::Message& message, const pb::FieldDescriptor* field,
                  bool& first) {
  if (!supported(field)) return false;
  const auto* r = message.GetReflection();
  if (field->is_map()) {
    append_name(out, field, first);
    return append_map(out, message, field);
  }
  if (field->is_repeated()) {
    append_name(out, field, first);
    out.push_back('[');
    const int size = r->FieldSize(message, field);
    for (int i = 0; i < size; ++i) {
      if (i > 0) out.push_back(',');
      if (!append_value(out, message, field, i)) return false;
    }
    out.push_back(']');
    return true;
  }
  append_name(out, field, first);
  // An old binding's webhook secret hash (the old HMAC key) is never shown
  // (engine::mask_credentials masks the same on the fallback path).
  if (field->name() == "webhook_secret_sha256" &&
      field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING &&
      !r->GetString(message, field).empty()) {
    out.append("\"").append(engine::kMasked).append("\"");
    return true;
  }
  return append_value(out, message, field, -1);
}

bool append_message(std::string& out, const pb::Message& message) {
  const auto* descriptor = message.GetDescriptor();
  if (descriptor->file()->syntax() != pb::FileDescriptor::SYNTAX_PROTO3) return false;
  const auto* r = message.GetReflection();
  out.push_back('{');
  bool first = true;
  // Declaration order. Unset message fields are left out; unset primitive
  // members of a oneof too, and set ones come after everything else.
  bool oneof_primitives = false;
  const int count = descriptor->field_count();
  for (int i = 0; i < count; ++i) {
    const auto* field = descriptor->field(i);
    const bool is_message = field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE;
    if (!field->is_repeated() && (is_message || field->containing_oneof() != nullptr)) {
      if (!r->HasField(message, field)) continue;
      if (!is_message) {
        oneof_primitives = true;
        continue;
      }
    }
    if (!append_field(out, message, field, first)) return false;
  }
  if (oneof_primitives) {
    // Protobuf prints them in the order it reads them: field-number order.
    std::vector<const pb::FieldDescriptor*> set;
    for (int i = 0; i < count; ++i) {
      const auto* field = descriptor->field(i);
      if (!field->is_repeated() && field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE &&
          field->containing_oneof() != nullptr && r->HasField(message, field)) {
        set.push_back(field);
      }
    }
    std::sort(set.begin(), set.end(),
              [](const auto* a, const auto* b) { return a->number() < b->number(); });
    for (const auto* field : set) {
      if (!append_field(out, message, field, first)) return false;
    }
  }
  out.push_back('}');
  return true;
}

}  // namespace

bool append_view_json_fast(const pb::Message& message, std::string& out) {
  return append_message(out, message);
}

bool append_view_json(const pb::Message& message, std::string& out) {
  const size_t mark = out.size();
  if (append_message(out, message)) return true;
  out.resize(mark);
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  if (engine::holds_credentials(message)) {
    std::unique_ptr<pb::Message> copy(message.New());
    copy->CopyFrom(message);
    engine::mask_credentials(*copy);
    if (!pb::util::MessageToJsonString(*copy, &text, options).ok()) return false;
  } else if (!pb::util::MessageToJsonString(message, &text, options).ok()) {
    return false;
  }
  out.append(text);
  return true;
}

}  // namespace wharf::api
