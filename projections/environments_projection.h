#pragma once
// Environments: per project and environment, the version serving now, the one
// before it, the deploy in flight, and the full history of deploys and
// rollbacks with who asked, who approved and why.
//
// Keys (column family "environments"):
//   's' [project] [env] BE(pos) -> wharf.views.v1.EnvironmentView   as of pos
//   'h' [project] [env] BE(pos) -> wharf.views.v1.EnvironmentEvent  history line
//   'e' [project] BE(first_pos) BE(ordinal) -> env name   environments, in creation order
//   'g' [run] [env] -> approved_by                    opened approval gates
#include "projections/projection.h"

namespace wharf::projections {

class EnvironmentsProjection : public Projection {
 public:
  std::string name() const override { return "environments"; }
  uint32_t schema_version() const override { return 1; }
  void apply(const Envelope& event, StateBatch& state) override;
};

}  // namespace wharf::projections
