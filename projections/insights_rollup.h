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

}  // namespace wharf::projections::insights::rollup
