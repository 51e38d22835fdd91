#pragma once
// The on-disk key layout of the event store (the whole format; docs/storage.md
// explains it in prose). Every integer in a key is 8-byte big-endian so that
// RocksDB's bytewise order is numeric order.
//
//   CF "log"        BE(position)                          -> Envelope (protobuf)
//   CF "streams"    stream_id '\0' BE(stream_version)      -> BE(position)
//   CF "event_ids"  event_id                               -> BE(position) + SHA-256(content)
//   CF "meta"       "format"                               -> "wharf-eventstore-v1"
//                   "store_id"                             -> UUID chosen at creation
//                   "user/" + key                          -> put_meta/get_meta values
#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::events::keys {

inline constexpr const char* kLogFamily = "log";
inline constexpr const char* kStreamsFamily = "streams";
inline constexpr const char* kEventIdsFamily = "event_ids";
inline constexpr const char* kMetaFamily = "meta";

inline constexpr std::string_view kFormatMarker = "wharf-eventstore-v1";
inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kStoreIdKey = "store_id";
inline constexpr std::string_view kUserMetaPrefix = "user/";

inline constexpr size_t kDigestSize = 32;  // SHA-256

inline void append_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline std::string be64(uint64_t v) {
  std::string out;
  out.reserve(8);
  append_be64(out, v);
  return out;
}

// Decodes the first 8 bytes of `s` (which must hold at least 8).
inline uint64_t read_be64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

inline std::string log_key(uint64_t position) { return be64(position); }

inline std::string stream_prefix(std::string_view stream) {
  std::string key(stream);
  key.push_back('\0');
  return key;
}

inline std::string stream_key(std::string_view stream, uint64_t version) {
  std::string key = stream_prefix(stream);
  append_be64(key, version);
  return key;
}

// Value of CF "event_ids": where the event is and what its caller-supplied
// content hashed to (so a retry with different content is detected).
inline std::string event_id_value(uint64_t position, std::string_view content_digest) {
  std::string v = be64(position);
  v.append(content_digest);
  return v;
}

inline std::string user_meta_key(std::string_view key) {
  std::string k(kUserMetaPrefix);
  k.append(key);
  return k;
}

}  // namespace wharf::events::keys
