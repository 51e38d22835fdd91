#pragma once
// Insights: what serves where (the landscape) and the deployment facts the
// four delivery metrics are computed from (docs/insights.md). The rules for
// counting live in insights_math.h; this folds events into facts.
//
// Keys (column family "insights"):
//   'l' [project] [env] BE(pos) -> LandscapeCell    what serves, as of pos
//   'E' [project] BE(pos) -> env                    environments seen, first deploy
//   'd' [project] [env] BE(deployed_at_us) BE(pos) -> DeploymentFact
//   'a' BE(deployed_at_us) BE(pos) -> DeploymentFact   the same, across projects
//        (a fact is rewritten when its failure or restore is found; both carry
//        the deciding event's position, so a query as of P leaves out later ones)
//   'A' BE(day) BE(chunk) -> rows                    the rollup across projects:
//        each deployment's compact row (insights_rollup.h) in its UTC day's
//        chunks of at most 32, written once
//   'B' BE(day) -> chunk, rows                       the day's open chunk
//   'F' BE(deployed_at_us) BE(pos) -> outcome        a failed deployment's failure
//        and restore (rewritten with the fact), for the rollup's readers
//   'G' [scope] BE(day) -> counts, 'H'/'J' [scope] BE(day) BE(chunk) -> samples,
//   'N' [project] [env] -> group: the per-day aggregates (insights_rollup.h)
//        per scope (all, one environment, one project's environment), exact
//        as of the projection's position: answers at the head read these
//   'S' [project] [env] -> InsightsEnvState          fold state
//   'r' [run] -> InsightsCommitNote                  first CommitObserved of a run
//   'v' [project] [version] -> InsightsCommitNote    the version's commit and ordinal
//   'o' [project] -> ordinal                         VersionRecorded count (decimal)
//   'q' [project] [env] [deploy#attempt] -> InsightsPendingDeploy
//   'k' [project] [env] [version] -> HealthState     last verdict of the version here
#include <string>
#include <unordered_map>

#include "projections/projection.h"
#include "projections/state_reader.h"
#include "wharf/views/v1/insights.pb.h"

namespace wharf::projections {

class InsightsProjection : public Projection {
 public:
  std::string name() const override { return "insights"; }
  // 2: the rollup ('A', 'B', 'F'); 3: the per-day aggregates ('G', 'H',
  // 'J', 'N'). A store folded by an older schema is refolded on open.
  uint32_t schema_version() const override { return 3; }
  void apply(const Envelope& event, StateBatch& state) override;
  void reset() override { memo_.clear(); }

 private:
  // Newest stored InsightsEnvState per 'S' key.
  std::unordered_map<std::string, wharf::views::v1::InsightsEnvState> memo_;
};

}  // namespace wharf::projections
