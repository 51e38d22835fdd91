#pragma once
// Shared by api/routes_maintenance.cc and api/terminal.cc.
#include "api/api_error.h"
#include "api/app.h"
#include "api/maintenance.h"

namespace wharf::api {

struct MaintenanceTarget {
  LogTarget log;  // project, environment, target type and settings, current deploy
};

// The route's environment and its current deploy; 404 when the project has
// no such environment, 409 nothing_deployed when nothing serves there yet.
MaintenanceTarget resolve_maintenance_target(Context& ctx);

// The answer when a target's resolver cannot reach its service: 409
// nothing_serving for a local environment, 502 target_unavailable (the
// cluster's or Portainer's message) for the others.
ApiError unreachable_target(const LogTarget& target, const std::string& why);

// The server's session host; 501 maintenance_unavailable when it runs none.
MaintenanceHost& maintenance_host(const Context& ctx);

// GET .../environments/{environment}/terminal: a WebSocket to a shell.
Reply open_terminal(Context& ctx);

}  // namespace wharf::api
