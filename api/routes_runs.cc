// Pipeline runs of a project: list with filters, one run with its step
// timeline, cancel / retry / approve, and step logs by byte offset (like
// Jenkins' progressive text: ask again from X-Next-Offset while X-More-Data).
#include "adapters/runtime/step_logs.h"
#include "api/api_error.h"
#include "api/resource_support.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

constexpr size_t kMaxLogChunk = 1024 * 1024;

// The run, checked to belong to the path's project (so a role on one project
// never reaches another project's runs).
views::RunView run_of_project(const Context& ctx, uint64_t* position = nullptr) {
  projections::QueryOptions options = query_options(ctx);
  auto answer = value_or_throw(queries(ctx).get_run(ctx.param("run"), options));
  if (answer.value.project_id() != ctx.param("project")) {
    throw not_found("run \"" + ctx.param("run") + "\" is not a run of project \"" +
                    ctx.param("project") + "\"");
  }
  if (position != nullptr) *position = answer.position;
  return std::move(answer.value);
}

Reply list_runs(Context& ctx) {
  projections::RunFilter filter;
  filter.project_id = ctx.param("project");
  if (auto status = ctx.query_value("status")) {
    views::RunStatus parsed;
    const std::string name = "RUN_STATUS_" + [&] {
      std::string upper = *status;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return upper;
    }();
    if (!views::RunStatus_Parse(name, &parsed) || parsed == views::RUN_STATUS_UNSPECIFIED) {
      throw bad_request("invalid_enum", "query parameter \"status\" has invalid value \"" + *status + "\"",
                        json::object{{"field", "status"},
                                     {"value", *status},
                                     {"allowed", json::array{"running", "succeeded", "failed",
                                                             "cancelled"}}});
    }
    filter.status = parsed;
  }
  filter.commit_sha = ctx.query_value("commit").value_or("");
  filter.before = ctx.query_uint("before").value_or(0);
  filter.limit = ctx.query_uint("limit").value_or(50);
  if (filter.limit == 0 || filter.limit > ctx.app.config().max_page) {
    throw bad_request("invalid_value", "query parameter \"limit\" is out of range",
                      json::object{{"field", "limit"}, {"max", ctx.app.config().max_page}});
  }
  return view_reply(ctx, value_or_throw(queries(ctx).list_runs(filter, query_options(ctx))));
}

Reply get_run(Context& ctx) {
  uint64_t position = 0;
  auto run = run_of_project(ctx, &position);
  auto body = view_json(run);
  body.as_object()["position"] = position;
  return json_reply(ctx.request, http::status::ok, body);
}

Reply cancel_run(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"reason"});
  run_of_project(ctx);
  engine::CancelRun command{ctx.param("run"), body.optional_string("reason").value_or("")};
  return run_command(ctx, std::move(command));
}

Reply retry_step(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"reason"});
  run_of_project(ctx);
  engine::RetryStep command{ctx.param("run"), body.optional_string("reason").value_or("")};
  return run_command(ctx, std::move(command));
}

Reply approve_gate(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"environment", "comment"});
  auto run = run_of_project(ctx);
  engine::Approve command;
  command.run_id = ctx.param("run");
  command.environment = body.optional_string("environment").value_or(run.waiting_for_approval());
  command.comment = body.optional_string("comment").value_or("");
  if (command.environment.empty()) {
    throw ApiError(http::status::conflict, "rejected", "run is not waiting for an approval");
  }
  return run_command(ctx, std::move(command));
}

Reply list_logs(Context& ctx) {
  auto run = run_of_project(ctx);
  json::array steps;
  for (const auto& log : runtime::list_run_logs(ctx.app.services().data_dir, run.run_id())) {
    steps.push_back(json::object{{"step", log.step}, {"size", log.size}});
  }
  return json_reply(ctx.request, http::status::ok,
                    json::object{{"run_id", run.run_id()}, {"logs", std::move(steps)}});
}

Reply log_reply(const Context& ctx, const runtime::LogChunk& chunk, bool still_running) {
  Reply reply;
  reply.response = Response(http::status::ok, ctx.request.version());
  reply.response.set(http::field::content_type, "text/plain; charset=utf-8");
  reply.response.set("X-Next-Offset", std::to_string(chunk.next_offset));
  reply.response.set("X-Text-Size", std::to_string(chunk.next_offset));
  const bool more = still_running || chunk.next_offset < chunk.size;
  if (more) reply.response.set("X-More-Data", "true");
  reply.response.body() = chunk.data;
  reply.response.keep_alive(ctx.request.keep_alive());
  reply.response.prepare_payload();
  return reply;
}

size_t chunk_limit(const Context& ctx) {
  return std::min<uint64_t>(ctx.query_uint("max_bytes").value_or(64 * 1024), kMaxLogChunk);
}

Reply read_step_log(Context& ctx) {
  auto run = run_of_project(ctx);
  auto chunk = runtime::read_run_log(ctx.app.services().data_dir, run.run_id(), ctx.param("step"),
                                     ctx.query_uint("offset").value_or(0), chunk_limit(ctx));
  if (!chunk) throw not_found(chunk.error(), json::object{{"step", ctx.param("step")}});
  return log_reply(ctx, *chunk, run.status() == views::RUN_STATUS_RUNNING);
}

Reply read_deploy_log(Context& ctx) {
  const auto attempt = ctx.query_uint("attempt").value_or(1);
  ctx.app.access().refresh();
  if (ctx.app.access().project_of_deploy(ctx.param("deploy")) != ctx.param("project")) {
    throw not_found("deploy \"" + ctx.param("deploy") + "\" is not a deploy of project \"" +
                    ctx.param("project") + "\"");
  }
  auto chunk = runtime::read_deploy_log(ctx.app.services().data_dir, ctx.param("deploy"),
                                        static_cast<uint32_t>(attempt),
                                        ctx.query_uint("offset").value_or(0), chunk_limit(ctx));
  if (!chunk) throw not_found(chunk.error(), json::object{{"deploy", ctx.param("deploy")}});
  return log_reply(ctx, *chunk, false);
}

}  // namespace

void add_run_routes(App& app) {
  app.add(http::verb::get, "/api/v1/projects/{project}/runs", Access::kViewer, list_runs);
  app.add(http::verb::get, "/api/v1/projects/{project}/runs/{run}", Access::kViewer, get_run);
  app.add(http::verb::post, "/api/v1/projects/{project}/runs/{run}/cancel", Access::kDeployer,
          cancel_run);
  app.add(http::verb::post, "/api/v1/projects/{project}/runs/{run}/retry", Access::kDeployer,
          retry_step);
  app.add(http::verb::post, "/api/v1/projects/{project}/runs/{run}/approve", Access::kDeployer,
          approve_gate);
  if (!app.services().data_dir.empty()) {
    app.add(http::verb::get, "/api/v1/projects/{project}/runs/{run}/logs", Access::kViewer,
            list_logs);
    app.add(http::verb::get, "/api/v1/projects/{project}/runs/{run}/logs/{step}", Access::kViewer,
            read_step_log);
    app.add(http::verb::get, "/api/v1/projects/{project}/deploys/{deploy}/log", Access::kViewer,
            read_deploy_log);
  }
}

}  // namespace wharf::api
