#pragma once
// A projection folds events into state in its own column family. apply() must
// depend only on the event and the state before it (no clocks, no randomness,
// no iteration over unordered containers into keys), so a rebuild from
// position 0 writes exactly the same keys and values: that is what makes
// `wharf projections digest` comparable across rebuilds.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "events/event_store.h"
#include "projections/state_batch.h"

namespace wharf::projections {

using Envelope = wharf::v1::Envelope;

class Projection {
 public:
  virtual ~Projection() = default;
  // Also the name of its column family and of `wharf projections rebuild NAME`.
  virtual std::string name() const = 0;
  // Bump when apply() or the key layout changes: a stored column family with
  // another schema version is dropped and rebuilt from position 0 at open.
  virtual uint32_t schema_version() const = 0;
  // Folds one event (position > the projection's checkpoint) into `state`.
  virtual void apply(const Envelope& event, StateBatch& state) = 0;
  // Forgets in-memory memos of stored state; called when the projection's
  // column family is reset for a rebuild and when a batch fails to commit.
  virtual void reset() {}
};

// The seven projections in a fixed order: projects, runs, versions,
// environments, permissions, audit, insights.
std::vector<std::unique_ptr<Projection>> make_projections();
std::vector<std::string> projection_names();

}  // namespace wharf::projections
