// Permissions: requests for a role and their decision, direct grants and
// revocations (engine commands), and API tokens. Listings: routes_audit.cc.
#include "api/api_error.h"
#include "api/app.h"
#include "api/resource_support.h"
#include "api/json_input.h"
#include "api/tokens.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

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

// POST /api/v1/tokens/{token}/revoke (admin): the token is refused from the
// next request on (AccessIndex folds the TokenRevoked before any lookup).
Reply revoke_token_route(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"reason"});
  auto& access = ctx.app.access();
  access.refresh();
  const std::string& token_id = ctx.param("token");
  auto record = access.token(token_id);
  if (!record) {
    throw not_found("no token \"" + token_id + "\"", json::object{{"token_id", token_id}});
  }
  uint64_t position = 0;
  if (!record->revoked) {
    auto revoked = revoke_token(ctx.app.services().store, token_id,
                                body.optional_string("reason").value_or(""), ctx.actor(),
                                ctx.app.now_us());
    if (!revoked) {
      throw ApiError(http::status::internal_server_error, "store_error",
                     revoked.error().message);
    }
    position = *revoked;
  }
  return json_reply(ctx.request, http::status::ok,
                    json::object{{"token_id", token_id},
                                 {"user", record->user},
                                 {"revoked", true},
                                 {"already_revoked", record->revoked},
                                 {"position", position}});
}

const char* const kRoles[] = {"viewer", "deployer", "owner"};

wharf::v1::Role role_field(const JsonBody& body) {
  return *role_from_name(*body.enum_value("role", {kRoles[0], kRoles[1], kRoles[2]}, true));
}

// POST /api/v1/permissions/requests: the caller asks for a role on a project.
Reply request_permission(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"project", "role", "reason"});
  engine::RequestPermission command;
  command.project_id = body.required_string("project");
  command.role = role_field(body);
  auto& access = ctx.app.access();
  access.refresh();
  if (!access.project_exists(command.project_id)) {
    throw not_found("no project \"" + command.project_id + "\"",
                    json::object{{"project", command.project_id}});
  }
  command.reason = body.optional_string("reason").value_or("");
  command.user = ctx.principal.user;
  return run_command(ctx, std::move(command));
}

// The request named in the path; its project's owners (or admins) decide it.
PermissionRequestRecord decidable_request(Context& ctx) {
  auto& access = ctx.app.access();
  access.refresh();
  auto request = access.request(ctx.param("request"));
  if (!request) {
    throw not_found("no permission request \"" + ctx.param("request") + "\"",
                    json::object{{"request_id", ctx.param("request")}});
  }
  ctx.require(request->project_id, wharf::v1::ROLE_OWNER);
  return *request;
}

Reply approve_request(Context& ctx) {
  JsonBody::parse(ctx.request.body(), {});
  auto request = decidable_request(ctx);
  engine::GrantPermission command{request.project_id, request.user, request.role,
                                  request.request_id};
  return run_command(ctx, std::move(command));
}

Reply deny_request(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"reason"});
  auto request = decidable_request(ctx);
  engine::DenyPermission command{request.project_id, request.request_id,
                                 body.optional_string("reason").value_or("")};
  return run_command(ctx, std::move(command));
}

Reply grant(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"user", "role"});
  engine::GrantPermission command{ctx.param("project"), body.required_string("user"),
                                  role_field(body), ""};
  return run_command(ctx, std::move(command));
}

Reply revoke(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"user", "role", "reason"});
  engine::RevokePermission command{ctx.param("project"), body.required_string("user"),
                                   role_field(body), body.optional_string("reason").value_or("")};
  return run_command(ctx, std::move(command));
}

}  // namespace

void add_access_routes(App& app) {
  app.add(http::verb::post, "/api/v1/tokens", Access::kAdmin, create_token);
  app.add(http::verb::post, "/api/v1/tokens/{token}/revoke", Access::kAdmin, revoke_token_route);
  if (app.services().commands == nullptr) return;
  app.add(http::verb::post, "/api/v1/permissions/requests", Access::kAuthenticated,
          request_permission);
  app.add(http::verb::post, "/api/v1/permissions/requests/{request}/approve",
          Access::kAuthenticated, approve_request);
  app.add(http::verb::post, "/api/v1/permissions/requests/{request}/deny", Access::kAuthenticated,
          deny_request);
  app.add(http::verb::post, "/api/v1/projects/{project}/permissions", Access::kOwner, grant);
  app.add(http::verb::post, "/api/v1/projects/{project}/permissions/revoke", Access::kOwner,
          revoke);
}

}  // namespace wharf::api
