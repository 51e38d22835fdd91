#pragma once
// The engine's public face for the runtime (adapters/runtime): which stream a
// command belongs to, what else it reads, and `decide` / `handle`, which turn
// a command into Envelopes ready to append. Pure: no I/O, clock or threads.
//
// The runtime's loop for one command:
//   1. own = fold(stream_of(cmd), read_stream(...))      (or a cached StreamState)
//   2. if reads_of(cmd) is set: fold that stream into a ProjectState;
//      if target_event_of(cmd) is set: read_event() it (absent: pass nullptr).
//   3. events = decide(own, cmd, ctx, lookups); a Rejection goes back to the caller.
//   4. append(stream_of(cmd), ExpectedVersion::exact(own.version()), events)
//      (version 0 = the stream must not exist yet); on a conflict re-read and
//      go to 3. An empty event list means "already done": nothing to append.
// The process manager (engine/reactor.h) produces further commands and work.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/access.h"
#include "engine/commands.h"
#include "engine/environment.h"
#include "engine/project.h"
#include "engine/run.h"
#include "engine/target.h"
#include "events/expected.h"
#include "wharf/v1/envelope.pb.h"

namespace wharf::engine {

using Envelope = wharf::v1::Envelope;

// ---- Stream names ----
enum class StreamKind { kUnknown, kProject, kRun, kEnvironment, kAccess, kTarget };

std::string project_stream(std::string_view project_id);  // "project-<id>"
std::string run_stream(std::string_view run_id);          // "run-<id>"
std::string environment_stream(std::string_view project_id,
                               std::string_view environment);  // "env-<p>-<e>"
std::string access_stream(std::string_view project_id);        // "access-<p>"
std::string target_stream(std::string_view name);              // "target-<name>"
StreamKind stream_kind(std::string_view stream_id);

// ---- Routing ----

// The stream a command is decided on and appended to.
std::string stream_of(const Command& command);
// The project stream a command reads (never writes), or "" if it reads none:
// ObserveCommit and manual RequestDeploy (run_id empty).
std::string reads_of(const Command& command);
// The event id a command needs loaded from the log, or "": RequestRollback
// with target_deploy_event_id.
std::string target_event_of(const Command& command);
// The run id a command is about derives from it; ObserveCommit's run id when
// the command leaves it empty (so stream_of is stable under redelivery).
std::string run_id_of(const ObserveCommit& command);

// ---- Folded state of one stream ----

// Any aggregate's state plus the version of the last event folded in.
// Cheap to keep per stream in a cache and advance with apply().
class StreamState {
 public:
  explicit StreamState(std::string stream_id);

  // Folds one event of this stream in (evolve).
  void apply(const Envelope& event);

  const std::string& stream_id() const { return stream_id_; }
  StreamKind kind() const;
  uint64_t version() const { return version_; }

  const ProjectState* project() const { return std::get_if<ProjectState>(&state_); }
  const RunState* run() const { return std::get_if<RunState>(&state_); }
  const EnvironmentState* environment() const { return std::get_if<EnvironmentState>(&state_); }
  const AccessState* access() const { return std::get_if<AccessState>(&state_); }
  const TargetState* target() const { return std::get_if<TargetState>(&state_); }

 private:
  std::string stream_id_;
  uint64_t version_ = 0;
  std::variant<std::monostate, ProjectState, RunState, EnvironmentState, AccessState, TargetState>
      state_;
};

StreamState fold(const std::string& stream_id, const std::vector<Envelope>& history);

// ---- Deciding ----

struct Lookups {
  const ProjectState* project = nullptr;  // state of reads_of(command), when set
  const Envelope* target_event = nullptr;  // the event target_event_of(command) names
};

// Decides `command` against `own` (the folded stream_of(command)). Returns
// the events to append, each with event_id, type, stream_id, stream_version
// (own.version()+1...), occurred_at_us (= now_us), actor, correlation_id,
// causation_id and payload set. Empty = nothing to do (idempotent repeat).
Expected<std::vector<Envelope>, Rejection> decide(const StreamState& own, const Command& command,
                                                  const Context& context,
                                                  const Lookups& lookups = {});

// Convenience over decide() for callers that hold raw histories.
struct Inputs {
  std::vector<Envelope> project_history;  // events of reads_of(command), if any
  std::optional<Envelope> target_event;   // the event of target_event_of(command), if found
};
Expected<std::vector<Envelope>, Rejection> handle(const std::vector<Envelope>& stream_history,
                                                  const Command& command, const Context& context,
                                                  const Inputs& inputs = {});

}  // namespace wharf::engine
