#pragma once
// Webhook authentication without a token. A project's secret S is sealed
// (adapters/targets/sealed_store.h, entry webhook/<project>); its Gerrit
// binding records only that one is set and its version. A sender proves it
// knows S by either
//   - header  X-Wharf-Signature-256: sha256=<hex HMAC-SHA256(S, body)>, or
//   - query   ?secret=S  (for senders that cannot sign, e.g. Gerrit's webhooks
//     plugin, whose URL then carries the secret; use HTTPS in front).
// Comparisons are constant-time. Bindings from before the sealed store kept
// SHA-256(S) in the log (and exports), which was the HMAC key: they are
// refused until the secret is set again (docs/targets.md#the-past).
#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/targets/pending_credential.h"
#include "wharf/v1/project.pb.h"

namespace wharf::api {

// Seals `secret` as the next version of `project`'s webhook secret and
// records that version in `binding` (a Gerrit binding). keep() the result
// once the event carrying the binding is appended.
Expected<targets::PendingCredential, std::string> seal_webhook_secret(
    targets::SealedStore* store, const std::string& project, const std::string& secret,
    wharf::v1::RepositoryBinding& binding);

// Lowercase hex HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
// Constant-time equality of two strings of equal length.
bool constant_time_equal(std::string_view a, std::string_view b);
// Checks a "sha256=<hex>" header against `body` for the secret.
bool signature_matches(std::string_view header, std::string_view body, std::string_view secret);

}  // namespace wharf::api
