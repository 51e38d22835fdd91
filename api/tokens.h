#pragma once
// API tokens: random secrets handed out once, stored only as SHA-256 in a
// TokenIssued event on stream "tokens". Used by `wharf token create` and by
// `wharf serve` to issue the first admin token on a store that has none.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "events/event_store.h"

namespace wharf::api {

struct IssuedToken {
  std::string token;     // the secret; shown once, never stored
  std::string token_id;  // public id, safe to log
  std::string user;
  bool admin = false;
  int64_t expires_at_us = 0;  // 0 = never
  uint64_t position = 0;      // of the TokenIssued event
};

// Lowercase hex SHA-256, as stored in TokenIssued.token_sha256.
std::string sha256_hex(std::string_view data);
// `bytes` random bytes from the OS CSPRNG, as lowercase hex.
std::string random_hex(size_t bytes);
// Microseconds since the epoch, system clock.
int64_t now_us();
// "30d", "12h", "45m", "90s" (or a bare number of seconds) -> microseconds.
std::optional<int64_t> parse_duration_us(std::string_view text);

// Appends a TokenIssued event for `user`. `actor` names who issued it.
Expected<IssuedToken, events::Error> issue_token(events::EventStore& store, const std::string& user,
                                                 bool admin, int64_t expires_at_us,
                                                 const wharf::v1::Actor& actor, int64_t now);

// Appends a TokenRevoked event for `token_id` to stream "tokens". Whether the
// token exists is the caller's check (AccessIndex::token_state).
Expected<uint64_t, events::Error> revoke_token(events::EventStore& store,
                                               const std::string& token_id,
                                               const std::string& reason,
                                               const wharf::v1::Actor& actor, int64_t now);

// When stream "tokens" is empty, issues an admin token for `user` (appended
// with expected version "no stream", so two racing callers issue one token)
// and returns it; returns nullopt when tokens already exist.
Expected<std::optional<IssuedToken>, events::Error> issue_first_admin_token(
    events::EventStore& store, int64_t now, const std::string& user = "admin");

}  // namespace wharf::api
