// The audit view: who did what, when, through which channel. Global for
// admins; a project's owners see their project's entries. Also the
// permission listings, which come from the same read side.
#include "api/api_error.h"
#include "api/resource_support.h"
#include "projections/time_format.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

std::optional<int64_t> time_param(const Context& ctx, const std::string& name) {
  auto text = ctx.query_value(name);
  if (!text) return std::nullopt;
  auto us = projections::parse_rfc3339(*text);
  if (!us) {
    throw bad_request("wrong_type", "query parameter \"" + name + "\" must be an RFC 3339 time",
                      json::object{{"field", name}, {"expected", "RFC 3339 time"}});
  }
  return us;
}

Reply audit(Context& ctx) {
  projections::AuditFilter filter;
  filter.project_id = ctx.query_value("project").value_or("");
  if (filter.project_id.empty()) {
    ctx.require_admin();
  } else {
    ctx.require(filter.project_id, wharf::v1::ROLE_OWNER);
  }
  filter.actor = ctx.query_value("actor").value_or("");
  filter.type = ctx.query_value("type").value_or("");
  filter.text = ctx.query_value("text").value_or("");
  filter.from_time_us = time_param(ctx, "from_time");
  filter.to_time_us = time_param(ctx, "to_time");
  filter.from_position = ctx.query_uint("from_position").value_or(0);
  filter.to_position = ctx.query_uint("to_position").value_or(0);
  filter.cursor = ctx.query_uint("cursor").value_or(0);
  filter.limit = ctx.query_uint("limit").value_or(100);
  if (filter.limit == 0 || filter.limit > ctx.app.config().max_page) {
    throw bad_request("invalid_value", "query parameter \"limit\" is out of range",
                      json::object{{"field", "limit"}, {"max", ctx.app.config().max_page}});
  }
  const auto order = ctx.query_value("order").value_or("newest");
  if (order != "newest" && order != "oldest") {
    throw bad_request("invalid_enum", "query parameter \"order\" must be newest or oldest",
                      json::object{{"field", "order"},
                                   {"value", order},
                                   {"allowed", json::array{"newest", "oldest"}}});
  }
  filter.oldest_first = order == "oldest";
  return view_reply(ctx, value_or_throw(queries(ctx).audit(filter, query_options(ctx))));
}

// Project members and requests (owners/admins), or the caller's own roles
// and requests.
Reply list_permissions(Context& ctx) {
  const auto project = ctx.query_value("project").value_or("");
  const auto options = query_options(ctx);
  json::object body;
  if (!project.empty()) {
    ctx.require(project, wharf::v1::ROLE_OWNER);
    auto members = value_or_throw(queries(ctx).project_permissions(project, options));
    auto requests = value_or_throw(queries(ctx).permission_requests(
        project, ctx.query_value("status").value_or("") == "pending", options));
    body["position"] = members.position();
    body["assignments"] = view_json(members).at("assignments");
    body["requests"] = view_json(requests).at("requests");
  } else {
    const std::string user = ctx.query_value("user").value_or(ctx.principal.user);
    if (user != ctx.principal.user) ctx.require_admin();
    auto mine = value_or_throw(queries(ctx).user_permissions(user, options));
    auto requests = value_or_throw(queries(ctx).permission_requests(
        "", ctx.query_value("status").value_or("") == "pending", options));
    json::array own;
    for (const auto& r : requests.requests()) {
      if (r.user() == user) own.push_back(view_json(r));
    }
    body["position"] = mine.position();
    body["assignments"] = view_json(mine).at("assignments");
    body["requests"] = std::move(own);
  }
  return json_reply(ctx.request, http::status::ok, body);
}

}  // namespace

void add_audit_routes(App& app) {
  app.add(http::verb::get, "/api/v1/audit", Access::kAuthenticated, audit);
  app.add(http::verb::get, "/api/v1/permissions", Access::kAuthenticated, list_permissions);
}

}  // namespace wharf::api
