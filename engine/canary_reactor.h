#pragma once
// The process manager's part for canaries (engine/canary.h): every canary
// step, promotion and abort moves traffic (SetCanaryTraffic); a timed pause
// schedules the ExpireTimer that ends it. recover() re-issues both for each
// active canary, so after a restart the traffic is where the log says and
// the pause ends when it was due.
#include <vector>

#include "engine/reactor.h"

namespace wharf::engine {

void react_canary(const ProcessState& state, const Envelope& event, std::vector<Reaction>& out);
void recover_canary(const ProcessState& state, std::vector<Reaction>& out);

}  // namespace wharf::engine
