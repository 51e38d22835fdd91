#include "api/tokens.h"

#include <openssl/rand.h>

#include <charconv>
#include <chrono>
#include <stdexcept>

#include "events/hash_chain.h"
#include "events/ids.h"

namespace wharf::api {

constexpr char kTokenStream[] = "tokens";

std::string sha256_hex(std::string_view data) {
  return events::to_hex(events::sha256(data));
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return events::to_hex(raw);
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> parse_duration_us(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t unit = 1'000'000;
  switch (text.back()) {
    case 'd':
      unit *= 86'400;
      text.remove_suffix(1);
      break;
    case 'h':
      unit *= 3'600;
      text.remove_suffix(1);
      break;
    case 'm':
      unit *= 60;
      text.remove_suffix(1);
      break;
    case 's':
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n <= 0) return std::nullopt;
  if (n > INT64_MAX / unit) return std::nullopt;
  return n * unit;
}

namespace {

Expected<IssuedToken, events::Error> append_token(events::EventStore& store,
                                                  const std::string& user, bool admin,
                                                  int64_t expires_at_us,
                                                  const wharf::v1::Actor& actor, int64_t now,
                                                  events::ExpectedVersion expected) {
  IssuedToken issued;
  issued.token = "wharf_" + random_hex(32);
  issued.token_id = random_hex(8);
  issued.user = user;
  issued.admin = admin;
  issued.expires_at_us = expires_at_us;

  events::Envelope event;
  event.set_event_id(events::new_uuid());
  event.set_occurred_at_us(now);
  *event.mutable_actor() = actor;
  event.set_correlation_id(issued.token_id);
  auto* body = event.mutable_payload()->mutable_token_issued();
  body->set_token_id(issued.token_id);
  body->set_user(user);
  body->set_admin(admin);
  body->set_token_sha256(sha256_hex(issued.token));
  body->set_expires_at_us(expires_at_us);
  auto appended = store.append(kTokenStream, expected, {event});
  if (!appended) return unexpected(appended.error());
  issued.position = appended->last_position;
  return issued;
}

}  // namespace

Expected<IssuedToken, events::Error> issue_token(events::EventStore& store, const std::string& user,
                                                 bool admin, int64_t expires_at_us,
                                                 const wharf::v1::Actor& actor, int64_t now) {
  return append_token(store, user, admin, expires_at_us, actor, now,
                      events::ExpectedVersion::any());
}

Expected<uint64_t, events::Error> revoke_token(events::EventStore& store,
                                               const std::string& token_id,
                                               const std::string& reason,
                                               const wharf::v1::Actor& actor, int64_t now) {
  events::Envelope event;
  event.set_event_id(events::new_uuid());
  event.set_occurred_at_us(now);
  *event.mutable_actor() = actor;
  event.set_correlation_id(token_id);
  auto* body = event.mutable_payload()->mutable_token_revoked();
  body->set_token_id(token_id);
  body->set_revoked_by(actor.id());
  body->set_reason(reason);
  auto appended = store.append(kTokenStream, events::ExpectedVersion::any(), {event});
  if (!appended) return unexpected(appended.error());
  return appended->last_position;
}

Expected<std::optional<IssuedToken>, events::Error> issue_first_admin_token(
    events::EventStore& store, int64_t now, const std::string& user) {
  if (store.stream_version(kTokenStream) != 0) return std::optional<IssuedToken>();
  wharf::v1::Actor actor;
  actor.set_id("system");
  actor.set_channel(wharf::v1::CHANNEL_SYSTEM);
  auto issued =
      append_token(store, user, true, 0, actor, now, events::ExpectedVersion::no_stream());
  if (!issued) {
    if (issued.error().code == events::ErrorCode::kConflict) return std::optional<IssuedToken>();
    return unexpected(issued.error());
  }
  return std::optional<IssuedToken>(std::move(*issued));
}

}  // namespace wharf::api
