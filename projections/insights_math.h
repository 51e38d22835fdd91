#pragma once
// The arithmetic of the delivery metrics (docs/insights.md#definitions), in
// one place: the failure window, the time range and bucket rules, the
// nearest-rank percentiles and the figures over a set of deployment facts.
// The insights projection folds facts with these rules; the API, `wharf
// insights` and `wharf insights --file` (an export replayed offline) all
// compute their figures with report() below, so the three paths agree.
// Pure: no clock, no I/O.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wharf/views/v1/insights.pb.h"

namespace wharf::projections::insights {

inline constexpr int64_t kSecondUs = 1'000'000;
inline constexpr int64_t kDayUs = 86'400 * kSecondUs;
// A rollback request, an aborted canary or an unhealthy verdict counts
// against a deployment when it happens at most this long after the
// deployment succeeded (inclusive: exactly 24 h after still counts).
inline constexpr int64_t kFailureWindowUs = kDayUs;
// The range when a request names no `from`: 90 days before `to`.
inline constexpr int64_t kDefaultRangeUs = 90 * kDayUs;

// 0 <= failed_at - deployed_at <= kFailureWindowUs.
bool in_failure_window(int64_t deployed_at_us, int64_t failed_at_us);
// Time ranges are half-open: from <= t < to.
inline bool in_range(int64_t t, int64_t from_us, int64_t to_us) {
  return t >= from_us && t < to_us;
}

// Nearest-rank percentile: the index (into n ascending samples, n > 0) of the
// smallest sample with at least p% of the samples at or below it, i.e.
// ceil(p/100 * n) - 1. The median is p = 50: always an observed value, so
// every percentile names one deployment.
size_t nearest_rank(size_t n, unsigned percent);

enum class Bucket { kNone, kDay, kWeek, kMonth };
std::optional<Bucket> parse_bucket(std::string_view name);
const char* bucket_name(Bucket bucket);
// Start of the bucket holding t (UTC): midnight, Monday midnight (ISO weeks),
// the first of the month. kNone: t itself.
int64_t bucket_start(int64_t t_us, Bucket bucket);
// Start of the next bucket.
int64_t bucket_end(int64_t start_us, Bucket bucket);

// One deployment as the figures count it: read from a DeploymentFact, or
// from the insights projection's compact rollup (insights_rollup.h), which
// holds only these fields. The strings view bytes that outlive the report.
struct FactRow {
  std::string_view project_id;
  std::string_view environment;
  uint64_t position = 0;  // of the DeploySucceeded
  int64_t deployed_at_us = 0;
  bool rollback = false;
  bool has_lead_time = false;
  int64_t lead_time_us = 0;
  uint64_t failure_position = 0;  // 0: not failed
  int64_t failure_at_us = 0;
  uint64_t restore_position = 0;  // 0: not restored
  int64_t restore_at_us = 0;
  const wharf::views::v1::DeploymentFact* fact = nullptr;  // for `detail`; may be null otherwise
};
FactRow row_of(const wharf::views::v1::DeploymentFact& fact);

// Makes `fact` as it stood at `position`: a failure or restore recorded by a
// later event is left out.
void as_of(wharf::views::v1::DeploymentFact& fact, uint64_t position);
void as_of(FactRow& row, uint64_t position);

// A lead time or a time to restore, and the deployment it belongs to.
// (value, position) is a total order: the percentiles pick exactly one.
struct Sample {
  int64_t value_us = 0;
  uint64_t position = 0;
  bool operator<(const Sample& o) const {
    return value_us != o.value_us ? value_us < o.value_us : position < o.position;
  }
};

// What the four figures count over a set of deployments, before the
// arithmetic: filled row by row (add) or from the projection's per-day
// aggregates (insights_rollup.h), which hold the same counts and samples.
struct Tally {
  uint64_t deployments = 0, rollbacks = 0, failed = 0, unrestored = 0;
  std::vector<Sample> lead, restore;           // any order
  std::vector<uint64_t> deployment_positions;  // detail only, in the order added
  std::vector<uint64_t> failed_positions;
  void add(const FactRow& row, bool detail);
  bool empty() const { return deployments == 0 && rollbacks == 0; }
};
// The figures of `tally` (its sample vectors are reordered), with
// deployments_per_day over [from, to).
wharf::views::v1::InsightsFigures figures(Tally& tally, int64_t from_us, int64_t to_us);

// The four figures over `rows` (already as of the answer's position and in
// the range), with deployments_per_day over [from, to). `detail`: list the
// positions each figure counts (in the order of `rows`).
wharf::views::v1::InsightsFigures figures(const std::vector<const FactRow*>& rows, int64_t from_us,
                                          int64_t to_us, bool detail);

// Groups of an answer (per project and environment, sorted) are paged:
// at most `limit` (0: all) after `after` (a cursor: the last group of the
// previous page; empty: from the first).
struct GroupPage {
  size_t limit = 0;
  std::string after_project, after_environment;
  bool has_cursor = false;
  // True when (project, env) sorts after the cursor.
  bool after_cursor(std::string_view project, std::string_view env) const;
};
// The opaque `next_cursor` of a page ending at (project, env), and back.
std::string encode_group_cursor(std::string_view project, std::string_view env);
bool decode_group_cursor(std::string_view cursor, GroupPage* page);

// An answer without figures: position, range, bucket name, failure window
// and the buckets' bounds (figures zero). `starts`: the buckets' starts.
wharf::views::v1::InsightsReport report_frame(uint64_t position, int64_t from_us, int64_t to_us,
                                              Bucket bucket, std::vector<int64_t>* starts);
// Index of the bucket (into `starts`, ascending) holding t; -1 if none.
ptrdiff_t bucket_index(const std::vector<int64_t>& starts, int64_t t_us);

// The whole answer: total, one bucket per `bucket` from the one holding
// `from` to the one holding to-1 (kNone: no buckets), the page of groups
// per project and environment (sorted; `next_cursor` when more follow), and
// with `detail` a copy of every fact (each row's `fact` must be set). `rows`
// in any order; each must be as_of() the position and deployed in [from, to).
wharf::views::v1::InsightsReport report(std::vector<FactRow> rows, uint64_t position,
                                        int64_t from_us, int64_t to_us, Bucket bucket, bool detail,
                                        const GroupPage& page = {});

}  // namespace wharf::projections::insights
