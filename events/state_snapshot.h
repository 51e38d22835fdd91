#pragma once
// State snapshots of the in-memory consumers of the log (the process
// manager's engine::ProcessState, api::AccessIndex, targets::TargetCatalog):
// a consumer's folded state and the log position it covers, so a start folds
// only the events after that position instead of the whole log.
//
// A snapshot is an optimisation, never the truth. It is stored in the store's
// meta under "snapshot/<name>" (one synced RocksDB write: all or nothing) as a
// wharf.v1.StateSnapshot (events/proto/wharf/v1/snapshot.proto) and used only
// when it parses, has the consumer's schema version, was taken from this
// store, covers a position <= the head, and the event at that position has
// the hash it recorded. Anything else is ignored with one log line saying
// why, and the consumer folds the whole log. The state covers exactly the
// events up to its position, so snapshot + the events after it is the same
// fold as the whole log: none is skipped or applied twice, whenever the
// process dies.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "events/event_store.h"

namespace wharf::events {

std::string snapshot_key(std::string_view name);

struct LoadedSnapshot {
  uint64_t position = 0;
  std::string state;  // the consumer's message, serialized
};

// The usable snapshot of `name` (above), or nullopt after one log line saying
// why not (info when there is none, warn when one was refused).
std::optional<LoadedSnapshot> load_snapshot(const EventStore& store, std::string_view name,
                                            uint32_t schema);

// The one log line of a refused snapshot (load_snapshot writes it too).
void log_snapshot_refused(std::string_view name, const std::string& why);

// Stores `state` as `name`'s fold up to `position` (<= head), replacing the
// previous snapshot in one synced write.
Expected<void, std::string> save_snapshot(EventStore& store, std::string_view name, uint32_t schema,
                                          uint64_t position, const std::string& state);

// What a consumer's folds did since the process started (metrics
// wharf_state_events_folded / wharf_state_snapshot_position).
struct FoldCounters {
  std::atomic<uint64_t> snapshot_position{0};  // position of the snapshot loaded at start; 0: none
  std::atomic<uint64_t> events_folded{0};      // events applied since start
  std::atomic<uint64_t> snapshots_written{0};
  std::atomic<uint64_t> snapshot_written_position{0};
};

// One info line per `kFoldProgressEvery` events of a long fold:
// "<what>: folded 2,000,000 of 10,000,015 events".
inline constexpr uint64_t kFoldProgressEvery = 1'000'000;
void log_fold_progress(std::string_view what, uint64_t folded, uint64_t total);

}  // namespace wharf::events
