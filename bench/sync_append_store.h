#pragma once
// Benchmarks only: an EventStore that forwards everything to another one but
// append_async, so its callers get the base class's synchronous default -
// append() and wait for the fsync. With it, a CommandBus worker blocks on each
// append as it did before append_async: the in-run "before" of bench_ingest
// and bench_pipeline (WHARF_BENCH_SYNC_APPENDS=1).
#include "events/forwarding_store.h"

namespace wharf::bench {

class SyncAppendStore final : public events::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  // Replays read the inner store directly, as they did before.
  Expected<events::EventBatch, events::Error> read_batch(uint64_t from_position,
                                                         size_t max_count) const override {
    return inner().read_batch(from_position, max_count);
  }
  Expected<uint64_t, events::Error> scan(
      uint64_t from_position, uint64_t to_position,
      const std::function<bool(const events::Envelope&)>& visit) const override {
    return inner().scan(from_position, to_position, visit);
  }
};

}  // namespace wharf::bench
