#include "events/state_snapshot.h"

#include <spdlog/spdlog.h>

#include "wharf/v1/snapshot.pb.h"

namespace wharf::events {

namespace {

std::string with_thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// The hash of the event at `position`, or why it cannot be read.
Expected<std::string, std::string> hash_at(const EventStore& store, uint64_t position) {
  std::string hash;
  bool found = false;
  auto scanned = store.scan(position, position, [&](const Envelope& event) {
    found = event.position() == position;
    hash = event.hash();
    return false;
  });
  if (!scanned)
    return unexpected("cannot read position " + std::to_string(position) + ": " +
                      scanned.error().message);
  if (!found) return unexpected("no event at position " + std::to_string(position));
  return hash;
}

}  // namespace

std::string snapshot_key(std::string_view name) {
  return "snapshot/" + std::string(name);
}

std::optional<LoadedSnapshot> load_snapshot(const EventStore& store, std::string_view name,
                                            uint32_t schema) {
  auto refuse = [&](const std::string& why) -> std::optional<LoadedSnapshot> {
    log_snapshot_refused(name, why);
    return std::nullopt;
  };
  auto stored = store.get_meta(snapshot_key(name));
  if (!stored) {
    if (stored.error().code == ErrorCode::kNotFound) {
      spdlog::info("{}: no state snapshot yet; folding the whole log", name);
      return std::nullopt;
    }
    return refuse("cannot read it: " + stored.error().message);
  }
  wharf::v1::StateSnapshot snapshot;
  if (!snapshot.ParseFromString(*stored)) return refuse("it does not parse");
  if (snapshot.schema() != schema) {
    return refuse("schema " + std::to_string(snapshot.schema()) + ", this build reads " +
                  std::to_string(schema));
  }
  if (snapshot.store_id() != store.store_id()) {
    return refuse("taken from store " + snapshot.store_id() + ", not " + store.store_id());
  }
  const uint64_t head = store.head_position();
  if (snapshot.position() > head) {
    return refuse("position " + std::to_string(snapshot.position()) + " is past the head " +
                  std::to_string(head));
  }
  if (snapshot.position() > 0) {
    auto hash = hash_at(store, snapshot.position());
    if (!hash) return refuse(hash.error());
    if (*hash != snapshot.event_hash()) {
      return refuse("the event at position " + std::to_string(snapshot.position()) +
                    " has another hash than the snapshot recorded");
    }
  }
  spdlog::info("{}: state snapshot at position {} ({} bytes); folding {} newer events", name,
               snapshot.position(), stored->size(), head - snapshot.position());
  return LoadedSnapshot{snapshot.position(), std::move(*snapshot.mutable_state())};
}

Expected<void, std::string> save_snapshot(EventStore& store, std::string_view name, uint32_t schema,
                                          uint64_t position, const std::string& state) {
  wharf::v1::StateSnapshot snapshot;
  snapshot.set_schema(schema);
  snapshot.set_position(position);
  snapshot.set_store_id(store.store_id());
  if (position > 0) {
    auto hash = hash_at(store, position);
    if (!hash) return unexpected(hash.error());
    snapshot.set_event_hash(std::move(*hash));
  }
  snapshot.set_state(state);
  if (auto put = store.put_meta(snapshot_key(name), snapshot.SerializeAsString()); !put) {
    return unexpected(put.error().message);
  }
  return {};
}

void log_snapshot_refused(std::string_view name, const std::string& why) {
  spdlog::warn("{}: state snapshot not used ({}); folding the whole log", name, why);
}

void log_fold_progress(std::string_view what, uint64_t folded, uint64_t total) {
  spdlog::info("{}: folded {} of {} events", what, with_thousands(folded), with_thousands(total));
}

}  // namespace wharf::events
