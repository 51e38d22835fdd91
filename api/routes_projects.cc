// Projects: list (only those the caller holds a role on), create (the caller
// becomes owner), read, bind the repository, define an environment, replace
// the pipeline template.
#include "api/api_error.h"
#include "api/project_body.h"
#include "api/resource_support.h"
#include "api/webhook_signature.h"
#include "engine/engine.h"
#include "engine/ids.h"
#include "engine/target.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

// Old bindings hold the webhook secret's SHA-256 (the HMAC key of old):
// never shown (engine::mask_credentials does the same for events).
void redact(views::ProjectView& project) {
  engine::mask_credentials(project);
}

// Visibility follows the same roles as every other check (AccessIndex: grants,
// revocations and the creator's ownership), applied to the projection's list
// page by page (?limit=, default the config's default_page; ?cursor=).
Reply list_projects(Context& ctx) {
  auto& access = ctx.app.access();
  access.refresh();
  const Principal who = ctx.principal;
  projections::ProjectPage page;
  page.visible = [&access, who](const std::string& project) {
    return access.allows(who, project, wharf::v1::ROLE_VIEWER);
  };
  page.limit = page_limit(ctx, ctx.app.config().default_page);
  page.after = ctx.query_uint("cursor").value_or(0);
  auto list = value_or_throw(queries(ctx).list_projects(query_options(ctx), "", page));
  for (auto& p : *list.mutable_projects()) redact(p);
  return view_reply(ctx, list);
}

Reply get_project(Context& ctx) {
  auto answer = value_or_throw(queries(ctx).get_project(ctx.param("project"), query_options(ctx)));
  redact(answer.value);
  auto body = view_json(answer.value);
  body.as_object()["position"] = answer.position;
  return json_reply(ctx.request, http::status::ok, body);
}

// "gerrit_create": true also creates the Gerrit project and branches of the
// binding first (idempotent: an existing project only gains missing branches).
// Gerrit refusing or down: 502 and no wharf project.
void set_up_gerrit(Context& ctx, engine::CreateProject& command) {
  if (!command.repository.has_gerrit()) {
    throw bad_request("invalid_value", "gerrit_create needs a repository.gerrit binding",
                      json::object{{"field", "gerrit_create"}});
  }
  const auto& setup = ctx.app.services().gerrit_setup;
  if (!setup) {
    throw bad_request("gerrit_setup_unavailable",
                      "this server has no Gerrit REST credentials (serve --gerrit-http-url, "
                      "--gerrit-http-user, --gerrit-http-password)",
                      json::object{{"field", "gerrit_create"}});
  }
  // Refusals the engine would give anyway come before any change in Gerrit:
  // an invalid id is left to the engine's answer; an existing project is
  // refused here as the engine would refuse it.
  if (!engine::valid_project_id(command.project_id)) return;
  if (ctx.app.services().store.stream_version(engine::project_stream(command.project_id)) > 0) {
    throw ApiError(
        http::status::conflict, "rejected", "project " + command.project_id + " already exists",
        json::object{{"command", "CreateProject"},
                     {"rejection", engine::to_string(engine::Rejection::Code::kAlreadyExists)}});
  }
  command.gerrit_setup = setup(command.repository.gerrit());
}

// A webhook secret of the body, sealed before the command that records its
// version runs; taken back if the command is refused (webhook_signature.h).
std::optional<targets::PendingCredential> seal_secret(Context& ctx, const std::string& project,
                                                      const std::string& secret,
                                                      wharf::v1::RepositoryBinding& binding) {
  if (secret.empty()) return std::nullopt;
  auto sealed = seal_webhook_secret(ctx.app.services().secrets, project, secret, binding);
  if (!sealed) {
    throw ApiError(http::status::service_unavailable, "no_sealed_store", sealed.error(),
                   json::object{{"field", "repository.gerrit.webhook_secret"}});
  }
  return std::move(*sealed);
}

Reply create_project(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {WHARF_PROJECT_FIELDS, "gerrit_create"});
  std::string secret;
  engine::CreateProject command = parse_create_project(body, "", &secret);
  command.owner = ctx.principal.user;
  if (body.optional_bool("gerrit_create").value_or(false)) set_up_gerrit(ctx, command);
  auto pending = seal_secret(ctx, command.project_id, secret, command.repository);
  auto reply = run_command(ctx, std::move(command));
  if (pending) pending->keep();
  return reply;
}

Reply bind_repository(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"gerrit", "local_git"});
  engine::BindRepository command;
  command.project_id = ctx.param("project");
  std::string secret;
  command.repository = parse_repository(body, &secret);
  auto pending = seal_secret(ctx, command.project_id, secret, command.repository);
  auto reply = run_command(ctx, std::move(command));
  if (pending) pending->keep();
  return reply;
}

// Body: the template object exactly as project creation's "template" field.
Reply update_template(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {WHARF_TEMPLATE_FIELDS});
  engine::UpdatePipelineTemplate command;
  command.project_id = ctx.param("project");
  command.pipeline = parse_template(body);
  return run_command(ctx, std::move(command));
}

Reply define_environment(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {WHARF_ENVIRONMENT_FIELDS, "order"});
  engine::DefineEnvironment command;
  command.project_id = ctx.param("project");
  command.environment = parse_environment(body, ctx.param("environment"));
  if (auto order = body.optional_uint("order")) {
    if (*order > 1000) throw bad_request("invalid_value", "order is at most 1000");
    command.order = static_cast<int32_t>(*order);
  }
  return run_command(ctx, std::move(command));
}

// Starts a run by hand for a commit (what the Gerrit ingestor and the local
// git watcher do automatically).
Reply start_run(Context& ctx) {
  auto body =
      JsonBody::parse(ctx.request.body(), {"commit_sha", "branch", "ref", "subject", "author"});
  engine::ObserveCommit command;
  command.project_id = ctx.param("project");
  command.commit_sha = body.required_string("commit_sha");
  command.branch = body.optional_string("branch").value_or("");
  command.ref = body.optional_string("ref").value_or("");
  command.subject = body.optional_string("subject").value_or("");
  command.author.set_username(body.optional_string("author").value_or(ctx.principal.user));
  command.source = "api";
  command.dedup_key = "api:" + command.project_id + ":" + command.commit_sha;
  return run_command(ctx, std::move(command));
}

}  // namespace

void add_project_routes(App& app) {
  app.add(http::verb::get, "/api/v1/projects", Access::kAuthenticated, list_projects);
  app.add(http::verb::post, "/api/v1/projects", Access::kAuthenticated, create_project);
  app.add(http::verb::get, "/api/v1/projects/{project}", Access::kViewer, get_project);
  app.add(http::verb::put, "/api/v1/projects/{project}/repository", Access::kOwner,
          bind_repository);
  app.add(http::verb::put, "/api/v1/projects/{project}/template", Access::kOwner, update_template);
  app.add(http::verb::put, "/api/v1/projects/{project}/environments/{environment}", Access::kOwner,
          define_environment);
  app.add(http::verb::post, "/api/v1/projects/{project}/runs", Access::kDeployer, start_run);
}

}  // namespace wharf::api
