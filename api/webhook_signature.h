#pragma once
// Webhook authentication without a token. A project's Gerrit binding stores
// webhook_secret_sha256 = hex SHA-256 of its secret S. A sender proves it
// knows S by either
//   - header  X-Wharf-Signature-256: sha256=<hex HMAC-SHA256(key, body)>
//     with key = hex SHA-256 of S (the 64 hex characters as the HMAC key), or
//   - query   ?secret=S  (for senders that cannot sign, e.g. Gerrit's webhooks
//     plugin, whose URL then carries the secret; use HTTPS in front).
// Comparisons are constant-time.
#include <string>
#include <string_view>

namespace wharf::api {

// Lowercase hex HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
// Constant-time equality of two strings of equal length.
bool constant_time_equal(std::string_view a, std::string_view b);
// Checks a "sha256=<hex>" header against `body` for the stored secret digest.
bool signature_matches(std::string_view header, std::string_view body,
                       std::string_view secret_sha256_hex);

}  // namespace wharf::api
