#pragma once
// What auditors use: map times to log positions, select one project's events
// for an export, replay an export file into projections with no server, and
// print the human-readable tables of `wharf audit replay` / `audit report`.
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "events/event_store.h"
#include "events/export.h"
#include "projections/queries.h"
#include "projections/runner.h"

namespace wharf::projections {

// Last position recorded at or before `time_us` (0 if none): a binary search
// over the log, valid because recorded_at_us never decreases with position.
uint64_t log_position_at_time(const events::EventStore& store, int64_t time_us);

// An export filter keeping the events of one project: those naming it in
// their payload, those of its runs and deploys (looked up in the log when a
// run began before the range), and its project-/access-/env- streams.
std::function<bool(const wharf::v1::Envelope&)> project_filter(const events::EventStore& store,
                                                               const std::string& project_id);

struct ReplaySummary {
  events::VerifyReport verify;
  wharf::v1::ExportHeader header;
  uint64_t events_applied = 0;
  uint64_t events_omitted = 0;
};

// Verifies the export's chain, then folds its events into `runner` (opened on
// a scratch directory with no store). Fails, applying nothing, when the chain
// does not verify.
Expected<ReplaySummary, Error> replay_export(const std::string& file, ProjectionRunner& runner);

// Every version of the project (oldest first) with where and when it was deployed.
void print_version_history(std::ostream& out, const Queries& queries, const std::string& project_id,
                           const QueryOptions& at);
// Each environment's deploys, failures and rollbacks with positions in [from, to].
void print_environment_timeline(std::ostream& out, const Queries& queries,
                                const std::string& project_id, uint64_t from, uint64_t to,
                                const QueryOptions& at);
// Who deployed what where, who approved, what was rolled back and why, for
// one project or (empty) all, positions in [from, to].
void print_deploy_report(std::ostream& out, const Queries& queries, const std::string& project_id,
                         uint64_t from, uint64_t to, const QueryOptions& at);

}  // namespace wharf::projections
