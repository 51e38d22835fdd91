#pragma once
// Reads common fields (project_id, run_id, deploy_id) of whatever payload an
// envelope carries, by reflection, so code that needs "which project is this
// about" does not switch over every event type.
#include <string>

#include "events/event_store.h"

namespace wharf::projections {

// The named string field of the payload's set message; empty when absent.
std::string payload_field(const wharf::v1::Envelope& event, const char* name);

}  // namespace wharf::projections
