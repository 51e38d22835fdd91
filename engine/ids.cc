#include "engine/ids.h"

#include <array>
#include <cstring>

namespace wharf::engine {
namespace {

uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

void sha1_block(std::array<uint32_t, 5>& h, const unsigned char* block) {
  uint32_t w[80];
  for (int i = 0; i < 16; ++i) {
    w[i] = uint32_t(block[4 * i]) << 24 | uint32_t(block[4 * i + 1]) << 16 |
           uint32_t(block[4 * i + 2]) << 8 | uint32_t(block[4 * i + 3]);
  }
  for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 80; ++i) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d), k = 0x5A827999;
    } else if (i < 40) {
      f = b ^ c ^ d, k = 0x6ED9EBA1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d, k = 0xCA62C1D6;
    }
    uint32_t t = rotl(a, 5) + f + e + k + w[i];
    e = d, d = c, c = rotl(b, 30), b = a, a = t;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

constexpr char kHex[] = "0123456789abcdef";

// wharf's UUIDv5 namespace: the bytes are arbitrary but fixed forever.
constexpr unsigned char kNamespace[16] = {0x6b, 0x1d, 0x3e, 0x42, 0x9a, 0x57, 0x4c, 0x1f,
                                          0x8e, 0x20, 0x77, 0x0d, 0x51, 0xa4, 0x6e, 0x90};

bool id_chars(std::string_view s, bool allow_dash) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || (allow_dash && c == '-');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string sha1(std::string_view data) {
  std::array<uint32_t, 5> h = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t full = data.size() / 64;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  for (size_t i = 0; i < full; ++i) sha1_block(h, bytes + 64 * i);
  unsigned char tail[128] = {};
  size_t rest = data.size() - 64 * full;
  if (rest > 0) std::memcpy(tail, bytes + 64 * full, rest);
  tail[rest] = 0x80;
  size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = uint64_t(data.size()) * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  sha1_block(h, tail);
  if (tail_len == 128) sha1_block(h, tail + 64);
  std::string out(20, '\0');
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<char>(h[i] >> (24 - 8 * j));
  }
  return out;
}

std::string name_uuid(std::string_view name) {
  std::string input(reinterpret_cast<const char*>(kNamespace), sizeof(kNamespace));
  input.append(name);
  std::string digest = sha1(input);
  digest[6] = static_cast<char>((digest[6] & 0x0F) | 0x50);  // version 5
  digest[8] = static_cast<char>((digest[8] & 0x3F) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    auto byte = static_cast<unsigned char>(digest[i]);
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0F]);
  }
  return out;
}

std::string derived_event_id(std::string_view command_id, uint32_t index) {
  std::string name;
  name.reserve(command_id.size() + 12);
  name.append("cmd/").append(command_id).append("/").append(std::to_string(index));
  return name_uuid(name);
}

std::string short_id(std::string_view prefix, std::string_view seed) {
  std::string digest = sha1(seed);
  std::string out(prefix);
  out.push_back('-');
  for (int i = 0; i < 6; ++i) {
    auto byte = static_cast<unsigned char>(digest[i]);
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0F]);
  }
  return out;
}

bool valid_project_id(std::string_view id) { return id_chars(id, true); }
bool valid_environment_name(std::string_view name) { return id_chars(name, false); }

}  // namespace wharf::engine
