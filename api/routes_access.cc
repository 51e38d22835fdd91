// Permissions: who holds which role, and requests for more. Reads come from
// the AccessIndex; changes are engine commands (when the command bus is wired).
#include "api/api_error.h"
#include "api/app.h"
#include "api/json_input.h"
#include "api/tokens.h"
#include "events/ids.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

json::object grant_json(const GrantRecord& g) {
  return json::object{{"project", g.project_id},
                      {"user", g.user},
                      {"role", role_name(g.role)},
                      {"granted_by", g.granted_by},
                      {"position", g.position}};
}

json::object request_json(const PermissionRequestRecord& r) {
  return json::object{{"request_id", r.request_id},   {"project", r.project_id},
                      {"user", r.user},               {"role", role_name(r.role)},
                      {"reason", r.reason},           {"status", r.status},
                      {"decided_by", r.decided_by},   {"decision_reason", r.decision_reason},
                      {"requested_at_us", r.requested_at_us}, {"position", r.position}};
}

// Owners and admins see everyone's roles and requests on their projects;
// everyone else sees their own.
Reply list_permissions(Context& ctx) {
  auto& access = ctx.app.access();
  access.refresh();
  const auto project = ctx.query_value("project").value_or("");
  auto user = ctx.query_value("user").value_or("");
  if (!ctx.principal.admin) {
    if (!project.empty() && access.allows(ctx.principal, project, wharf::v1::ROLE_OWNER)) {
      // an owner may look at anyone on the project
    } else if (user.empty() || user == ctx.principal.user) {
      user = ctx.principal.user;
    } else {
      ctx.require(project, wharf::v1::ROLE_OWNER);
    }
  }
  json::array grants;
  for (const auto& g : access.grants(project, user)) grants.push_back(grant_json(g));
  json::array requests;
  const auto status = ctx.query_value("status").value_or("");
  for (const auto& r : access.requests(project, user)) {
    if (!status.empty() && r.status != status) continue;
    requests.push_back(request_json(r));
  }
  return json_reply(ctx.request, http::status::ok,
                    json::object{{"grants", std::move(grants)}, {"requests", std::move(requests)}});
}

// POST /api/v1/tokens (admin): like `wharf token create`; the token is in
// this response only.
Reply create_token(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"user", "admin", "expires_in"});
  const std::string user = body.required_string("user");
  const bool admin = body.optional_bool("admin").value_or(false);
  int64_t expires_at = 0;
  if (auto text = body.optional_string("expires_in")) {
    auto us = parse_duration_us(*text);
    if (!us) {
      throw bad_request("invalid_value", "expires_in must look like 30d, 12h, 45m or 90s",
                        json::object{{"field", "expires_in"}, {"value", *text}});
    }
    expires_at = ctx.app.now_us() + *us;
  }
  auto issued = issue_token(ctx.app.services().store, user, admin, expires_at, ctx.actor(),
                            ctx.app.now_us());
  if (!issued) {
    throw ApiError(http::status::internal_server_error, "store_error", issued.error().message);
  }
  return json_reply(ctx.request, http::status::created,
                    json::object{{"token", issued->token},
                                 {"token_id", issued->token_id},
                                 {"user", issued->user},
                                 {"admin", issued->admin},
                                 {"expires_at_us", issued->expires_at_us},
                                 {"position", issued->position}});
}

// POST /api/v1/permissions/requests: the caller asks for a role on a project.
// The API records PermissionRequested itself (access.proto); owners and
// admins then approve or deny it.
Reply request_permission(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"project", "role", "reason"});
  const std::string project = body.required_string("project");
  const auto role = role_from_name(*body.enum_value("role", {"viewer", "deployer", "owner"}, true));
  const std::string reason = body.optional_string("reason").value_or("");
  auto& access = ctx.app.access();
  access.refresh();
  if (!access.project_exists(project)) {
    throw not_found("project \"" + project + "\" does not exist", json::object{{"project", project}});
  }
  events::Envelope event;
  const std::string request_id = events::new_uuid();
  event.set_event_id(events::new_uuid());
  event.set_occurred_at_us(ctx.app.now_us());
  *event.mutable_actor() = ctx.actor();
  event.set_correlation_id(request_id);
  auto* requested = event.mutable_payload()->mutable_permission_requested();
  requested->set_request_id(request_id);
  requested->set_project_id(project);
  requested->set_user(ctx.principal.user);
  requested->set_role(*role);
  requested->set_reason(reason);
  auto appended = ctx.app.services().store.append("access-" + project,
                                                  events::ExpectedVersion::any(), {event});
  if (!appended) {
    throw ApiError(http::status::internal_server_error, "store_error", appended.error().message);
  }
  return json_reply(ctx.request, http::status::accepted,
                    json::object{{"request_id", request_id},
                                 {"position", appended->last_position},
                                 {"status", "pending"}});
}

}  // namespace

void add_access_routes(App& app) {
  app.add(http::verb::get, "/api/v1/permissions", Access::kAuthenticated, list_permissions);
  app.add(http::verb::post, "/api/v1/permissions/requests", Access::kAuthenticated,
          request_permission);
  app.add(http::verb::post, "/api/v1/tokens", Access::kAdmin, create_token);
}

}  // namespace wharf::api
