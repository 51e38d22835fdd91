#pragma once
// Where the ingestor sends ObserveCommit commands. In `wharf serve` and
// `wharf gerrit ingest` this is the runtime's command bus (bus_sink.h), which
// decides the command with the engine and appends CommitObserved (+ the run's
// first events) to the log. The event id derives from the dedup key, so a
// repeat is reported as kAlreadyObserved and nothing is written.
#include <cstdint>
#include <functional>
#include <string>

#include "engine/commands.h"
#include "events/expected.h"

namespace wharf::gerrit {

enum class Observed { kNew, kAlreadyObserved };

class CommitSink {
 public:
  virtual ~CommitSink() = default;
  // Returns after the command's events are durable (or found present). An
  // error means nothing was recorded: the event may be retried later.
  virtual Expected<Observed, std::string> observe(const engine::ObserveCommit& command,
                                                  const std::string& host) = 0;

  using Done = std::function<void(const Expected<Observed, std::string>&)>;
  // Queues the command; `done` runs once it is durable (possibly on another
  // thread, possibly before this returns). Lets a burst of events share the
  // store's group commits. The default runs observe() inline.
  virtual void observe_async(const engine::ObserveCommit& command, const std::string& host,
                             Done done) {
    done(observe(command, host));
  }
};

}  // namespace wharf::gerrit
