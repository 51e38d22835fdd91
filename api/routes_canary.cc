// Canary releases of an environment (docs/canary.md): its state (from the
// environment's stream, with the local router's live counts when it runs
// one), promote and abort (deployer).
#include "adapters/router/canary_target.h"
#include "api/api_error.h"
#include "api/resource_support.h"
#include "engine/engine.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

json::object step_json(const wharf::v1::CanaryStep& s) {
  json::object o{{"weight", s.weight()}};
  if (s.manual()) {
    o["pause"] = "manual";
  } else if (s.pause_s() > 0) {
    o["pause_s"] = s.pause_s();
  }
  return o;
}

Reply canary_status(Context& ctx) {
  const std::string project = ctx.param("project");
  const std::string environment = ctx.param("environment");
  const std::string stream = engine::environment_stream(project, environment);
  std::vector<events::Envelope> history;
  for (uint64_t from = 1;;) {
    auto batch =
        ctx.app.services().store.read_stream(stream, from, 4096, events::Direction::kForward);
    if (!batch) {
      throw ApiError(http::status::internal_server_error, "internal",
                     "cannot read " + stream + ": " + batch.error().message);
    }
    if (batch->empty()) break;
    from = batch->back().stream_version() + 1;
    for (auto& e : *batch) history.push_back(std::move(e));
  }
  if (history.empty()) {
    throw not_found("environment " + environment + " of project " + project + " has no deploys",
                    json::object{{"project", project}, {"environment", environment}});
  }
  engine::StreamState state = engine::fold(stream, history);
  const engine::CanaryState& c = state.environment()->canary;
  json::object body{{"project_id", project},      {"environment", environment},
                    {"active", c.active},         {"stable_version", c.stable_version},
                    {"stable_url", c.stable_url}, {"position", history.back().position()}};
  if (!c.canary_id.empty()) {
    json::array steps;
    for (const auto& s : c.strategy.steps()) steps.push_back(step_json(s));
    body["canary"] = json::object{
        {"canary_id", c.canary_id},
        {"deploy_id", c.deploy_id},
        {"version", c.version},
        {"url", c.url},
        {"step", c.step},
        {"weight", c.weight},
        {"steps", std::move(steps)},
        {"match", json::object{{"header", c.strategy.match().header()},
                               {"header_value", c.strategy.match().header_value()},
                               {"cookie", c.strategy.match().cookie()},
                               {"cookie_value", c.strategy.match().cookie_value()}}},
        {"outcome", c.active ? std::string("in_progress") : c.finished.at(c.canary_id)}};
  }
  if (!c.dubbo_rules.empty()) {
    // The Dubbo config-center rules wharf owns now (docs/canary.md#dubbo).
    json::array rules;
    for (const auto& [path, r] : c.dubbo_rules) {
      rules.push_back(json::object{{"path", path},
                                   {"kind", r.kind},
                                   {"canary_id", r.canary_id},
                                   {"znode_version", r.version},
                                   {"yaml", r.yaml},
                                   {"replaces_user_rule", r.has_snapshot}});
    }
    body["dubbo_rules"] = std::move(rules);
  }
  if (auto* router = ctx.app.services().canary_router) {
    for (const auto& r : router->routers()) {
      if (r.project_id != project || r.environment != environment) continue;
      body["router"] = json::object{{"port", r.port},
                                    {"weight", r.weight},
                                    {"stable", json::object{{"requests", r.counts.stable.requests},
                                                            {"errors", r.counts.stable.errors}}},
                                    {"canary", json::object{{"requests", r.counts.canary.requests},
                                                            {"errors", r.counts.canary.errors}}}};
    }
  }
  return json_reply(ctx.request, http::status::ok, body);
}

Reply promote(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"canary_id", "full"});
  engine::PromoteCanary command;
  command.project_id = ctx.param("project");
  command.environment = ctx.param("environment");
  command.canary_id = body.optional_string("canary_id").value_or("");
  command.full = body.optional_bool("full").value_or(false);
  return run_command(ctx, std::move(command));
}

Reply abort_canary(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"canary_id", "reason"});
  engine::AbortCanary command;
  command.project_id = ctx.param("project");
  command.environment = ctx.param("environment");
  command.canary_id = body.optional_string("canary_id").value_or("");
  command.reason = body.optional_string("reason").value_or("");
  return run_command(ctx, std::move(command));
}

}  // namespace

void add_canary_routes(App& app) {
  const std::string base = "/api/v1/projects/{project}/environments/{environment}/canary";
  app.add(http::verb::get, base, Access::kViewer, canary_status);
  app.add(http::verb::post, base + "/promote", Access::kDeployer, promote);
  app.add(http::verb::post, base + "/abort", Access::kDeployer, abort_canary);
}

}  // namespace wharf::api
