#pragma once
// The one path every Gerrit event takes, whatever its transport: size check
// -> parse -> count -> trigger? -> bound projects -> dedup -> CommitSink.
// SSH stream-events, webhook POSTs, REST catch-up and `wharf gerrit ingest
// --file` all call it, so one Gerrit event seen twice is observed once.
//
// Branch ref-updated events are held briefly (Zuul does the same): Gerrit
// sends a merge's ref-updated next to its change-merged, often first; when
// the change-merged for the same project, branch and newRev comes, the
// ref-updated is dropped so a merge starts one run, not two. Direct pushes
// (no change-merged) are released when the hold expires.
//
// Thread-safe: transports call it from their own threads.
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/gerrit/bindings.h"
#include "adapters/gerrit/commit_sink.h"
#include "adapters/gerrit/event_parser.h"
#include "adapters/gerrit/probe.h"
#include "adapters/gerrit/recent_ids.h"
#include "adapters/gerrit/trigger.h"

namespace wharf::gerrit {

struct IngestOptions {
  std::string host;  // the Gerrit server these events come from
  ParseLimits limits;
  size_t dedup_window = 100'000;             // recent dedup keys kept in memory
  int64_t ref_update_hold_us = 5'000'000;    // 0: never hold
  // Submit to the sink without waiting (CommitSink::observe_async): a burst
  // shares group commits and the stream reader never waits for fsync. The
  // outcome is then kSubmitted; results land in the probe.
  bool async_sink = false;
};

enum class Outcome {
  kEmpty,
  kBadLine,        // not JSON / no type (counted, logged with a snippet)
  kTooLarge,       // over the size limit (counted, logged)
  kUnknownType,    // a type Gerrit core does not define (counted, logged once per type)
  kDroppedOutput,  // Gerrit's marker that it discarded events: catch-up is due
  kNotATrigger,    // a known type that never starts a run, or noise
  kNotBound,       // a trigger no project listens to
  kHeld,           // branch ref-updated waiting for its change-merged
  kDeduplicated,   // already observed
  kObserved,       // at least one ObserveCommit recorded new events
  kSinkError,      // the sink failed: nothing recorded, may be retried
  kSubmitted,      // async_sink: handed to the sink, result pending
};
const char* to_string(Outcome outcome);

class Ingestor {
 public:
  Ingestor(IngestOptions options, const BindingSet& bindings, CommitSink& sink,
           IngestProbe& probe);

  // One line of stream-events JSON. `source` names the transport for the
  // CommitObserved ("gerrit-stream", "gerrit-webhook", "gerrit-catchup",
  // "gerrit-file"); `now_us` is the wall clock (hold deadlines, metrics).
  Outcome ingest_line(std::string_view line, const std::string& source, int64_t now_us);
  // An event already parsed (webhook body, REST catch-up).
  Outcome ingest_event(const GerritEvent& event, const std::string& source, int64_t now_us);

  // Emits held ref-updates whose hold has expired; returns how many.
  size_t release_held(int64_t now_us);
  // Emits every held ref-update now (end of a file, shutdown).
  size_t flush();

  // Called (on the ingesting thread, without the lock) for every dropped-output.
  void on_dropped_output(std::function<void()> callback);

  IngestProbe& probe() { return probe_; }
  const ParseLimits& limits() const { return options_.limits; }
  const std::string& host() const { return options_.host; }

 private:
  struct Held {
    CommitTrigger trigger;
    std::string source;
    std::string tip;  // project|ref|sha
    int64_t deadline_us = 0;
  };
  Outcome handle_locked(const GerritEvent& event, const std::string& source, int64_t now_us);
  Outcome emit_locked(const CommitTrigger& trigger, const std::string& source);

  IngestOptions options_;
  const BindingSet& bindings_;
  CommitSink& sink_;
  IngestProbe& probe_;
  std::function<void()> dropped_output_callback_;
  std::mutex mutex_;  // guards the members below
  RecentIds recent_;
  RecentIds merged_tips_;
  std::vector<Held> held_;
  // Keys whose async recording failed, to drop from recent_ (own lock: the
  // sink may call back on any thread, even inline).
  std::mutex failed_mutex_;
  std::vector<std::string> failed_keys_;
};

}  // namespace wharf::gerrit
