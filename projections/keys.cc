#include "projections/keys.h"

#include "projections/error.h"

namespace wharf::projections {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCorruption: return "corruption";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kLog: return "log";
  }
  return "unknown";
}

namespace keys {

void append_component(std::string& key, std::string_view part) {
  for (char c : part) {
    key.push_back(c);
    if (c == '\0') key.push_back('\xff');
  }
  key.push_back('\0');
  key.push_back('\x01');
}

void append_position(std::string& key, uint64_t position) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((position >> shift) & 0xff));
  }
}

std::string encode_position(uint64_t position) {
  std::string out;
  append_position(out, position);
  return out;
}

uint64_t decode_position(std::string_view bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

}  // namespace keys
}  // namespace wharf::projections
