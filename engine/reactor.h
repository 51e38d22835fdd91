#pragma once
// The process manager, pure half: turns events into the next commands and
// into work for the ports (engine/ports.h). Its state is a fold of the whole
// log, so it is rebuilt after a crash by replaying the log. The fold keeps
// only what react() and recover() read (ProcessState below), so it stays
// bounded however long the history: ten years of deploys are not in it.
//
// Contract for the runtime:
//   - live: for each event in log order: state.apply(e); for r in react(state, e): do r.
//   - restart: state = fold of the whole log; for r in recover(state): do r; then live.
//   - "do": IssueCommand -> decide + append (ignore Rejection::Code::kStale);
//     Start* -> the port's start() with that job; ScheduleTimer -> issue
//     `expire` at due_us (a timer for a finished step is a no-op, so timers
//     need no cancelling); CancelWork -> the port's cancel().
// Work is keyed by run id + attempt (builds, tests with environment) or
// deploy id + attempt; ports treat a repeated key as the same work. react()
// emits a Start* only when the state shows the step outstanding, and recover()
// emits exactly the outstanding ones, so a replay neither starts finished
// work again nor forgets unfinished work.
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "engine/engine.h"
#include "engine/ports.h"

namespace wharf::v1 {
class ProcessStateSnapshot;
}

namespace wharf::engine {

struct IssueCommand {
  Command command;
  Context context;  // actor "system"/CHANNEL_SYSTEM, deterministic command_id, causation =
                    // the triggering event; now_us is 0: the runtime stamps it when issuing
};
struct StartBuild {
  BuildJob job;
};
struct StartDeploy {
  DeployJob job;
};
struct StartTests {
  TestJob job;
};
// Named test cases of an environment (engine/maintenance_reactor.h): job.run_id
// is the test run id, attempt 1; the result is a RecordTestCaseResults.
struct StartTestCases {
  TestJob job;
};
struct ScheduleTimer {
  std::string key;  // unique per step attempt, e.g. "build/<run>/<attempt>"
  int64_t due_us = 0;
  ExpireTimer expire;
  Context context;  // for issuing `expire`: command_id "timer/<key>" (set now_us when firing)
};
struct CancelWork {
  wharf::v1::StepKind step = wharf::v1::STEP_KIND_UNSPECIFIED;
  std::string id;           // run id (build, tests) or deploy id (deploy)
  std::string environment;  // tests and deploy
  uint32_t attempt = 0;
};

// Move a canary's traffic (engine/ports.h CanaryTarget).
struct SetCanaryTraffic {
  CanaryTraffic traffic;
};

using Reaction = std::variant<IssueCommand, StartBuild, StartDeploy, StartTests, ScheduleTimer,
                              CancelWork, SetCanaryTraffic, StartTestCases>;

// The fold of every stream the process manager cares about, bounded to what
// react() and recover() read. Its aggregates are NOT the command side's
// (engine.h StreamState): never decide() on them. Per environment it keeps the
// queue, the latest successful deploy (`succeeded` holds only that one), the
// after-deploy request of that deploy, the finished deploy attempts a live run
// still awaits (`finished`), the canary in progress or last ended and the ended
// canaries that still own Dubbo rules; the decide-only sets (rollback ids,
// finished test case runs, log and terminal sessions) are left empty. Per
// project access: roles and ever-granted pairs, no requests. Runs: those not
// finished; a failed one is dropped too (RetryStep or CancelRun reopens it:
// missing_history() below). Cancelled run ids: the
// latest kCancelledRunsKept (a DeployRequested issued before its run was
// cancelled arrives within a few events, not thousands of cancellations later).
// The state is a function of the events folded, so a snapshot at P plus the
// events after P is the state the whole fold gives.
inline constexpr size_t kCancelledRunsKept = 10'000;

class ProcessState {
 public:
  // Folds one event in; events must come in log order.
  void apply(const Envelope& event);

  const RunState* run(const std::string& run_id) const;
  const EnvironmentState* environment(const std::string& project_id,
                                      const std::string& environment) const;
  const ProjectState* project(const std::string& project_id) const;
  const AccessState* access(const std::string& project_id) const;
  // A failed run is dropped like a finished one; RetryStep or CancelRun later
  // appends to its stream. For such an event missing_history() names the run
  // stream, whose earlier events the caller folds in with restore_run() before
  // apply() (the runtime reads them from the store); apply() alone ignores
  // the event. "" when nothing is missing.
  std::string missing_history(const Envelope& event) const;
  // `earlier`: the events of that run stream before the event, in order.
  void restore_run(const std::vector<Envelope>& earlier);

  // True when the run was cancelled (its state is no longer kept).
  bool run_cancelled(const std::string& run_id) const { return cancelled_runs_.count(run_id) > 0; }
  uint64_t last_position() const { return last_position_; }

  // Everything, by stream id (for recover()).
  const std::unordered_map<std::string, RunState>& runs() const { return runs_; }
  const std::unordered_map<std::string, EnvironmentState>& environments() const {
    return environments_;
  }
  const std::unordered_map<std::string, ProjectState>& projects() const { return projects_; }
  const std::unordered_map<std::string, AccessState>& accesses() const { return accesses_; }

 private:
  // engine/process_snapshot.h: the state as a message and back.
  friend wharf::v1::ProcessStateSnapshot to_snapshot(const ProcessState& state);
  friend bool from_snapshot(wharf::v1::ProcessStateSnapshot&& in, ProcessState& state);

  // Drops from `env` what no reaction reads any more after `event`.
  void bound(EnvironmentState& env, const Envelope& event) const;
  void remember_cancelled(const std::string& run_id);

  std::unordered_map<std::string, RunState> runs_;                  // by run id
  std::unordered_map<std::string, EnvironmentState> environments_;  // by stream id
  std::unordered_map<std::string, ProjectState> projects_;          // by project id
  std::unordered_map<std::string, AccessState> accesses_;           // by project id
  // Runs that succeeded, failed or were cancelled are dropped one event later
  // (react still sees them on their last event); the latest cancelled ids are
  // remembered (cancelled_order_: oldest first, the same ids as the set).
  std::unordered_set<std::string> cancelled_runs_;
  std::deque<std::string> cancelled_order_;
  std::string drop_next_;
  uint64_t last_position_ = 0;
};

inline ProcessState evolve(ProcessState state, const Envelope& event) {
  state.apply(event);
  return state;
}

// What `event` calls for. `state` must already include `event`.
std::vector<Reaction> react(const ProcessState& state, const Envelope& event);

// After a restart: every piece of outstanding work (Start* with its timer)
// and every follow-up command the log shows as due but not yet done.
std::vector<Reaction> recover(const ProcessState& state);

}  // namespace wharf::engine
