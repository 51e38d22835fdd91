#pragma once
// engine::ProcessState as a wharf.v1.ProcessStateSnapshot and back (pure; the
// runtime stores it: events/state_snapshot.h). from_snapshot(to_snapshot(s))
// reacts and recovers exactly like s. Containers are written sorted by key
// (cancelled runs in the order they were cancelled), so equal states give
// equal messages.
#include "engine/reactor.h"
#include "wharf/v1/snapshot.pb.h"

namespace wharf::engine {

// Version of the message's meaning; bump when ProcessState changes.
// 2: the state is bounded (engine/reactor.h ProcessState); a schema 1
// snapshot holds every deploy ever made and is refolded, not read.
// 3: failed runs are dropped too (a schema 2 snapshot holds them all).
inline constexpr uint32_t kProcessStateSchema = 3;

wharf::v1::ProcessStateSnapshot to_snapshot(const ProcessState& state);
// Fills `state` from `in` (whose contents it moves out); false when `in`
// holds what no ProcessState can (an unknown enum value).
bool from_snapshot(wharf::v1::ProcessStateSnapshot&& in, ProcessState& state);

}  // namespace wharf::engine
