#pragma once
// The one refresh of the in-memory read models that follow the log
// (api::AccessIndex, targets::TargetCatalog): fold every event appended after
// `cursor` up to the store's head. Cheap when nothing is new (a shared lock
// and one head read); folds under the exclusive lock, in batches of 1024.
#include <cstdint>
#include <mutex>
#include <shared_mutex>

#include "events/event_store.h"

namespace wharf::events {

template <class Apply>
void catch_up(const EventStore& store, std::shared_mutex& mu, uint64_t& cursor, Apply&& apply) {
  const uint64_t head = store.head_position();
  {
    std::shared_lock lock(mu);
    if (cursor >= head) return;
  }
  std::unique_lock lock(mu);
  while (cursor < head) {
    auto batch = store.read_all(cursor + 1, 1024);
    if (!batch || batch->empty()) break;
    for (const auto& event : *batch) {
      apply(event);
      cursor = event.position();
    }
  }
}

}  // namespace wharf::events
