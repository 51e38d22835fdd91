#include "adapters/gerrit/bus_sink.h"

namespace wharf::gerrit {

namespace {

engine::Context context_for(runtime::CommandBus& bus, const engine::ObserveCommit& command,
                            const std::string& host) {
  // Same command id for every delivery of this Gerrit event to this project.
  engine::Context context =
      bus.system_context("gerrit/" + command.project_id + "/" + command.dedup_key);
  context.actor.set_id("gerrit:" + host);
  context.actor.set_channel(wharf::v1::CHANNEL_GERRIT);
  return context;
}

Expected<Observed, std::string> observed(const runtime::CommandOutcome& outcome) {
  if (!outcome) return unexpected(outcome.error().message());
  if (outcome->nothing_to_do || outcome->already_present) return Observed::kAlreadyObserved;
  return Observed::kNew;
}

}  // namespace

Expected<Observed, std::string> BusCommitSink::observe(const engine::ObserveCommit& command,
                                                       const std::string& host) {
  return observed(bus_.execute(command, context_for(bus_, command, host)));
}

void BusCommitSink::observe_async(const engine::ObserveCommit& command, const std::string& host,
                                  Done done) {
  bus_.submit(command, context_for(bus_, command, host),
              [done = std::move(done)](const runtime::CommandOutcome& outcome) {
                done(observed(outcome));
              });
}

}  // namespace wharf::gerrit
