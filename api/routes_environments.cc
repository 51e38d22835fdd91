// Environments and versions of a project: what serves where (now or `at`),
// the deploy/rollback history, deploying a version, rolling back to an
// earlier deploy event or version.
#include "api/api_error.h"
#include "api/resource_support.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

// Response-cache key: the route and every parameter that shapes its answer
// (parameters are validated before the cache is consulted).
std::string cache_key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (auto part : parts) {
    key.append(part);
    key.push_back('\0');
  }
  return key;
}

// ?limit= of a paged route: `fallback` when absent, 400 outside 1..max_page.
uint64_t page_limit(Context& ctx, uint64_t fallback) {
  const uint64_t limit = ctx.query_uint("limit").value_or(fallback);
  if (limit == 0 || limit > ctx.app.config().max_page) {
    throw bad_request("invalid_value", "query parameter \"limit\" is out of range",
                      json::object{{"field", "limit"}, {"max", ctx.app.config().max_page}});
  }
  return limit;
}

Reply list_versions(Context& ctx) {
  const uint64_t limit = page_limit(ctx, 50);
  const uint64_t before = ctx.query_uint("before").value_or(0);
  const auto options = query_options(ctx);
  const auto key = cache_key({"versions", ctx.param("project"), std::to_string(before),
                              std::to_string(limit), ctx.query_value("at").value_or("")});
  return cached_view_reply(ctx, key, [&] {
    return value_or_throw(queries(ctx).list_versions(ctx.param("project"), before, limit, options));
  });
}

Reply get_version(Context& ctx) {
  auto answer = value_or_throw(
      queries(ctx).get_version(ctx.param("project"), ctx.param("version"), query_options(ctx)));
  auto body = view_json(answer.value);
  body.as_object()["position"] = answer.position;
  return json_reply(ctx.request, http::status::ok, body);
}

Reply list_environments(Context& ctx) {
  const auto options = query_options(ctx);
  const auto key =
      cache_key({"environments", ctx.param("project"), ctx.query_value("at").value_or("")});
  return cached_view_reply(ctx, key, [&] {
    return value_or_throw(queries(ctx).list_environments(ctx.param("project"), options));
  });
}

Reply get_environment(Context& ctx) {
  auto answer = value_or_throw(queries(ctx).get_environment(
      ctx.param("project"), ctx.param("environment"), query_options(ctx)));
  auto body = view_json(answer.value);
  body.as_object()["position"] = answer.position;
  return json_reply(ctx.request, http::status::ok, body);
}

// Newest `limit` lines (default 200) before `before`, oldest first: a page,
// whatever the length of the environment's history.
Reply environment_history(Context& ctx) {
  const auto options = query_options(ctx);
  const uint64_t before = ctx.query_uint("before").value_or(0);
  const uint64_t limit = page_limit(ctx, 200);
  const auto key = cache_key({"history", ctx.param("project"), ctx.param("environment"),
                              ctx.query_value("at").value_or(""), std::to_string(before),
                              std::to_string(limit)});
  return cached_view_reply(ctx, key, [&] {
    return value_or_throw(queries(ctx).environment_history(
        ctx.param("project"), ctx.param("environment"), options, before, limit));
  });
}

// Deploys a recorded version by hand; the rest of the spec comes from the project.
Reply deploy_version(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"version"});
  const std::string version = body.required_string("version");
  auto answer =
      value_or_throw(queries(ctx).get_version(ctx.param("project"), version, query_options(ctx)));
  engine::RequestDeploy command;
  command.project_id = ctx.param("project");
  command.environment = ctx.param("environment");
  command.spec.set_version(answer.value.version());
  command.spec.set_artifact_digest(answer.value.artifact_digest());
  command.spec.set_artifact_uri(answer.value.artifact_uri());
  return run_command(ctx, std::move(command));
}

// Rolls back to an earlier DeploySucceeded (by event id) or to the latest
// successful deploy of a version here; the engine replays that event's spec.
Reply rollback(Context& ctx) {
  auto body =
      JsonBody::parse(ctx.request.body(), {"target_deploy_event_id", "target_version", "reason"});
  engine::RequestRollback command;
  command.project_id = ctx.param("project");
  command.environment = ctx.param("environment");
  command.target_deploy_event_id = body.optional_string("target_deploy_event_id").value_or("");
  command.target_version = body.optional_string("target_version").value_or("");
  command.reason = body.optional_string("reason").value_or("");
  if (command.target_deploy_event_id.empty() == command.target_version.empty()) {
    throw bad_request("invalid_value",
                      "give exactly one of target_deploy_event_id or target_version",
                      json::object{{"field", "target_deploy_event_id"}});
  }
  return run_command(ctx, std::move(command));
}

}  // namespace

void add_environment_routes(App& app) {
  app.add(http::verb::get, "/api/v1/projects/{project}/versions", Access::kViewer, list_versions);
  app.add(http::verb::get, "/api/v1/projects/{project}/versions/{version}", Access::kViewer,
          get_version);
  app.add(http::verb::get, "/api/v1/projects/{project}/environments", Access::kViewer,
          list_environments);
  app.add(http::verb::get, "/api/v1/projects/{project}/environments/{environment}", Access::kViewer,
          get_environment);
  app.add(http::verb::get, "/api/v1/projects/{project}/environments/{environment}/history",
          Access::kViewer, environment_history);
  app.add(http::verb::post, "/api/v1/projects/{project}/environments/{environment}/deploy",
          Access::kDeployer, deploy_version);
  app.add(http::verb::post, "/api/v1/projects/{project}/environments/{environment}/rollback",
          Access::kDeployer, rollback);
}

}  // namespace wharf::api
