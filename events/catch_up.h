#pragma once
// The one refresh of the in-memory read models that follow the log
// (api::AccessIndex, targets::TargetCatalog): fold every event appended after
// `cursor` up to the store's head. Cheap when nothing is new (a shared lock
// and one head read); folds under the exclusive lock, in batches of 1024.
// A long fold logs its progress every kFoldProgressEvery events as `what`.
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "events/event_store.h"
#include "events/state_snapshot.h"

namespace wharf::events {

template <class Apply>
void catch_up(const EventStore& store, std::shared_mutex& mu, uint64_t& cursor, Apply&& apply,
              std::string_view what, FoldCounters& counters) {
  const uint64_t head = store.head_position();
  {
    std::shared_lock lock(mu);
    if (cursor >= head) return;
  }
  std::unique_lock lock(mu);
  const uint64_t from = cursor;
  const bool long_fold = head > cursor && head - cursor >= kFoldProgressEvery;
  uint64_t folded = 0;
  while (cursor < head) {
    auto batch = store.read_all(cursor + 1, 1024);
    if (!batch || batch->empty()) break;
    for (const auto& event : *batch) {
      apply(event);
      cursor = event.position();
      if (long_fold && ++folded % kFoldProgressEvery == 0) {
        log_fold_progress(what, folded, head - from);
      }
    }
    counters.events_folded += batch->size();
  }
}

// Once per model (the first refresh): loads `name`'s snapshot, if usable,
// and hands its bytes to `restore` (bool(const std::string&): decodes into
// the model's empty state, all or nothing), which then covers up to the
// snapshot's position.
template <class Restore>
void restore_once(const EventStore& store, std::once_flag& once, std::shared_mutex& mu,
                  uint64_t& cursor, std::string_view name, uint32_t schema, FoldCounters& counters,
                  Restore&& restore) {
  std::call_once(once, [&] {
    auto snapshot = load_snapshot(store, name, schema);
    if (!snapshot) return;
    std::unique_lock lock(mu);
    if (cursor != 0) return;
    if (!restore(snapshot->state)) {
      log_snapshot_refused(name, "its state does not decode");
      return;
    }
    cursor = snapshot->position;
    counters.snapshot_position = snapshot->position;
    counters.snapshot_written_position = snapshot->position;
  });
}

// Writes the model's snapshot at its cursor unless the last one is there:
// `encode` (std::string()) runs under the shared lock. True when written.
template <class Encode>
Expected<bool, std::string> save_model_snapshot(EventStore& store, std::shared_mutex& mu,
                                                const uint64_t& cursor, std::string_view name,
                                                uint32_t schema, FoldCounters& counters,
                                                Encode&& encode) {
  uint64_t position = 0;
  std::string state;
  {
    std::shared_lock lock(mu);
    position = cursor;
    if (position == 0 || position == counters.snapshot_written_position) return false;
    state = encode();
  }
  if (auto saved = save_snapshot(store, name, schema, position, state); !saved) {
    return unexpected(saved.error());
  }
  counters.snapshot_written_position = position;
  ++counters.snapshots_written;
  return true;
}

}  // namespace wharf::events
