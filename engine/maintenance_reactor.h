#pragma once
// The process manager's maintenance half (called by engine/reactor.cc):
// after a DeploySucceeded, the environment's after-deploy test cases are
// requested; a TestCasesRequested becomes StartTestCases work; recover()
// restarts every test case run the log shows unfinished. Pure.
#include <vector>

#include "engine/reactor.h"

namespace wharf::engine {

void react_maintenance(const ProcessState& state, const Envelope& event,
                       std::vector<Reaction>& out);
void recover_maintenance(const ProcessState& state, std::vector<Reaction>& out);

}  // namespace wharf::engine
