#include "events/hash_chain.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/sha.h>

#include <cctype>

#include "events/keys.h"

namespace wharf::events {

const std::string& zero_hash() {
  static const std::string zeros(keys::kDigestSize, '\0');
  return zeros;
}

std::string sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string serialize_deterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  out.reserve(message.ByteSizeLong());
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  return out;
}

std::string canonical_bytes(const wharf::v1::Envelope& envelope) {
  if (envelope.prev_hash().empty() && envelope.hash().empty()) {
    return serialize_deterministic(envelope);
  }
  wharf::v1::Envelope copy = envelope;
  copy.clear_prev_hash();
  copy.clear_hash();
  return serialize_deterministic(copy);
}

std::string content_digest(const wharf::v1::Envelope& envelope) {
  return sha256(canonical_bytes(envelope));
}

std::string chain_hash(std::string_view prev_hash, std::string_view content_digest) {
  unsigned char buffer[2 * keys::kDigestSize];
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  if (prev_hash.size() == keys::kDigestSize && content_digest.size() == keys::kDigestSize) {
    std::copy(prev_hash.begin(), prev_hash.end(), buffer);
    std::copy(content_digest.begin(), content_digest.end(), buffer + keys::kDigestSize);
    SHA256(buffer, sizeof buffer, reinterpret_cast<unsigned char*>(out.data()));
    return out;
  }
  std::string joined(prev_hash);
  joined.append(content_digest);
  return sha256(joined);
}

std::string from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return "";
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return "";
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

}  // namespace wharf::events
