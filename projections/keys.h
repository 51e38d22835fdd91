#pragma once
// Key layout shared by every projection (docs/projections.md#keys).
//
// A key is a one-byte table tag, then string components, then (for versioned
// and index tables) an 8-byte big-endian log position. Components are escaped
// (0x00 -> 0x00 0xFF) and terminated by 0x00 0x01, so keys sort by component
// and one entity's key is never a prefix of another entity's in the same
// table. Big-endian positions make "state as of position P" one SeekForPrev.
#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::projections::keys {

// Per-projection checkpoint: last applied log position (8 bytes BE). Sorts
// before every table key, lives in the projection's own column family.
inline constexpr std::string_view kCheckpoint{"\x00" "checkpoint", 11};
// Schema version of the projection's code that wrote the column family.
inline constexpr std::string_view kSchema{"\x00" "schema", 7};

void append_component(std::string& key, std::string_view part);
void append_position(std::string& key, uint64_t position);
std::string encode_position(uint64_t position);
// Reads 8 big-endian bytes; `bytes` must hold at least 8.
uint64_t decode_position(std::string_view bytes);

// Builds keys: Key('v').add(project).add(version).pos(42).
class Key {
 public:
  explicit Key(char tag) { key_.push_back(tag); }
  Key& add(std::string_view part) {
    append_component(key_, part);
    return *this;
  }
  Key& pos(uint64_t position) {
    append_position(key_, position);
    return *this;
  }
  const std::string& str() const { return key_; }
  operator const std::string&() const { return key_; }

 private:
  std::string key_;
};

}  // namespace wharf::projections::keys
