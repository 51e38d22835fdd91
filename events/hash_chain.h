#pragma once
// The hash chain (docs/storage.md#hash-chain):
//   content_digest = SHA-256(envelope serialized deterministically with
//                            prev_hash and hash cleared)
//   hash           = SHA-256(prev_hash || content_digest)
// prev_hash of position 1 is 32 zero bytes. The two levels let a filtered
// export replace an omitted event by {position, content_digest, hash}.
#include <string>
#include <string_view>

#include "wharf/v1/envelope.pb.h"

namespace wharf::events {

// 32 zero bytes: the prev_hash of position 1.
const std::string& zero_hash();

// Raw 32-byte SHA-256 of `data`.
std::string sha256(std::string_view data);

// Canonical bytes of `envelope`: deterministic serialization with prev_hash
// and hash cleared.
std::string canonical_bytes(const wharf::v1::Envelope& envelope);

// SHA-256 of canonical_bytes(envelope).
std::string content_digest(const wharf::v1::Envelope& envelope);

// SHA-256(prev_hash || content_digest).
std::string chain_hash(std::string_view prev_hash, std::string_view content_digest);

// Protobuf serialization with deterministic map order (the schema has maps).
std::string serialize_deterministic(const google::protobuf::MessageLite& message);

// Lowercase hex of `bytes`, for messages.
std::string to_hex(std::string_view bytes);
// The bytes of a hex text (either case); "" when it is not hex of whole bytes.
std::string from_hex(std::string_view hex);

}  // namespace wharf::events
