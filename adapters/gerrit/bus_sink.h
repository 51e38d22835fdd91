#pragma once
// CommitSink over the runtime's command bus: ObserveCommit is decided by the
// engine and appended (CommitObserved, PipelineRunStarted, BuildRequested).
// The run id and event ids derive from project + dedup key, so a repeat
// decides to nothing and is reported as kAlreadyObserved.
#include "adapters/gerrit/commit_sink.h"
#include "adapters/runtime/command_bus.h"

namespace wharf::gerrit {

class BusCommitSink final : public CommitSink {
 public:
  explicit BusCommitSink(runtime::CommandBus& bus) : bus_(bus) {}
  Expected<Observed, std::string> observe(const engine::ObserveCommit& command,
                                          const std::string& host) override;
  void observe_async(const engine::ObserveCommit& command, const std::string& host,
                     Done done) override;

 private:
  runtime::CommandBus& bus_;
};

}  // namespace wharf::gerrit
