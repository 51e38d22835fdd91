#include "adapters/gerrit/bus_sink.h"

namespace wharf::gerrit {

Expected<Observed, std::string> BusCommitSink::observe(const engine::ObserveCommit& command,
                                                       const std::string& host) {
  // Same command id for every delivery of this Gerrit event to this project.
  engine::Context context =
      bus_.system_context("gerrit/" + command.project_id + "/" + command.dedup_key);
  context.actor.set_id("gerrit:" + host);
  context.actor.set_channel(wharf::v1::CHANNEL_GERRIT);
  auto outcome = bus_.execute(command, std::move(context));
  if (!outcome) return unexpected(outcome.error().message());
  if (outcome->nothing_to_do || outcome->already_present) return Observed::kAlreadyObserved;
  return Observed::kNew;
}

}  // namespace wharf::gerrit
