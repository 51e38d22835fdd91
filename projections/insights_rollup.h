#pragma once
// The insights projection's rollup across projects (docs/insights.md#storage):
// per UTC day of deployment, chunks of compact rows (project, environment,
// position, time, rollback, lead time), plus one small outcome entry per
// failed deployment (its failure and restore). A query over all projects
// reads these instead of parsing every DeploymentFact. Encoding in one place:
// the projection writes with it, InsightsQueries reads with it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "projections/insights_math.h"
#include "wharf/views/v1/insights.pb.h"

namespace wharf::projections::insights::rollup {

// Rows per chunk: a new deployment rewrites only its day's last chunk.
inline constexpr uint64_t kRowsPerChunk = 32;

uint64_t day_of(int64_t deployed_at_us);

// Appends `fact`'s row to a chunk.
void append_row(std::string& chunk, const wharf::views::v1::DeploymentFact& fact);
// Decodes every row of `chunk` (which must outlive the rows) into `out`;
// false if the bytes are not a chunk.
bool decode_rows(std::string_view chunk, std::vector<FactRow>& out);

// The day's chunk pointer: which chunk is open and how many rows it holds.
std::string encode_pointer(uint64_t chunk, uint64_t rows);
bool decode_pointer(std::string_view bytes, uint64_t* chunk, uint64_t* rows);

// A failed deployment's outcome (failure, restore if any), keyed by the fact.
std::string encode_outcome(const wharf::views::v1::DeploymentFact& fact);
struct Outcome {
  uint64_t position = 0;  // of the fact
  uint64_t failure_position = 0;
  int64_t failure_at_us = 0;
  uint64_t restore_position = 0;
  int64_t restore_at_us = 0;
};
bool decode_outcome(std::string_view bytes, Outcome* out);

// ---- Per-day aggregates (schema 3), exact: what insights::Tally counts
// over one UTC day of deployments of one scope, as of the projection's
// position. Scopes: every environment, one environment (across projects),
// one project's environment (a group).
//   'G' [scope...] BE(day) -> DayCounts
//   'H' [scope...] BE(day) BE(chunk) -> lead-time samples, kSamplesPerChunk each
//   'J' [scope...] BE(day) BE(chunk) -> time-to-restore samples
//   'N' [project] [env] -> project, env        every group with a deployment
struct DayCounts {
  uint64_t deployments = 0;  // not rollbacks
  uint64_t rollbacks = 0;
  uint64_t failed = 0;
  uint64_t restores = 0;  // restore samples
  uint64_t leads = 0;     // lead-time samples
};
std::string encode_counts(const DayCounts& c);
bool decode_counts(std::string_view bytes, DayCounts* out);

inline constexpr uint64_t kSamplesPerChunk = 64;
// 16 bytes per sample: value and position, little-endian.
void append_sample(std::string& chunk, const Sample& s);
// Appends every sample of `chunk` to `out`; false if the bytes are not samples.
bool decode_samples(std::string_view chunk, std::vector<Sample>& out);

// The scope components of a key (after its tag).
std::string scope_all();
std::string scope_environment(std::string_view env);
std::string scope_group(std::string_view project, std::string_view env);

std::string group_value(std::string_view project, std::string_view env);
bool decode_group(std::string_view bytes, std::string_view* project, std::string_view* env);

}  // namespace wharf::projections::insights::rollup
