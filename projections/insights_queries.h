#pragma once
// What GET /api/v1/landscape and /api/v1/insights ask (docs/insights.md),
// read from the insights projection (and the projects projection for names
// and the promotion order). Like Queries: every answer is as of a log
// position (QueryOptions: `at`, `min_position`), nothing is replayed.
#include <cstdint>
#include <functional>
#include <string>

#include "projections/error.h"
#include "projections/insights_math.h"
#include "projections/queries.h"
#include "projections/runner.h"
#include "wharf/views/v1/insights.pb.h"

namespace wharf::projections {

struct LandscapeFilter {
  std::function<bool(const std::string& project_id)> visible;  // null: every project
  std::string project;      // case-insensitive substring of the project's name or id
  std::string environment;  // exact; empty: every environment
  uint64_t after = 0;       // the page after this cursor (a project's creation position)
  size_t limit = 0;         // projects per page; 0: all
};

struct InsightsFilter {
  std::function<bool(const std::string& project_id)> visible;  // null: every project
  std::string project;      // exact id; empty: every (visible) project
  std::string environment;  // exact; empty: every environment
  int64_t from_us = 0;      // inclusive
  int64_t to_us = 0;        // exclusive
  insights::Bucket bucket = insights::Bucket::kWeek;
  bool detail = false;       // list every fact and the positions each figure counts
  insights::GroupPage page;  // which groups (per project and environment) to answer
};

class InsightsQueries {
 public:
  explicit InsightsQueries(const Queries& queries) : queries_(queries) {}

  // Every (visible) project x its environments: what serves, since when, by
  // whom, canary, health, and how far each is ahead of the next. In the
  // order projects were created, one page (`next_cursor` when more follow).
  Expected<wharf::views::v1::Landscape, Error> landscape(const LandscapeFilter& filter,
                                                         const QueryOptions& o) const;
  // The four delivery metrics over deployments in [from, to): one range scan
  // per environment of the project; over all projects (no `detail`) at the
  // projection's position, the per-day aggregates of the full days of the
  // range and the rollup's rows of its two partial days; as of an earlier
  // position (`at`), the rollup's rows of the range. Never a log scan.
  Expected<wharf::views::v1::InsightsReport, Error> insights(const InsightsFilter& filter,
                                                             const QueryOptions& o) const;

 private:
  const Queries& queries_;
};

}  // namespace wharf::projections
