// What the web UI needs beside the resources: who the caller is (user, admin,
// role per project) and a verifiable export of the log to download (the
// `wharf audit export` file format, events/export.h), for one project's
// owners or for admins.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/api_error.h"
#include "api/app.h"
#include "api/event_json.h"
#include "events/checkpoint.h"
#include "events/export.h"
#include "events/hash_chain.h"
#include "events/ids.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

// GET /api/v1/me
Reply who_am_i(Context& ctx) {
  auto& access = ctx.app.access();
  access.refresh();
  json::array roles;
  for (const auto& project : access.visible_projects(ctx.principal)) {
    const auto role = access.role_of(ctx.principal.user, project);
    roles.push_back(
        json::object{{"project", project},
                     {"role", role == wharf::v1::ROLE_UNSPECIFIED ? std::string("admin")
                                                                  : std::string(role_name(role))}});
  }
  return json_reply(ctx.request, http::status::ok,
                    json::object{{"user", ctx.principal.user},
                                 {"admin", ctx.principal.admin},
                                 {"token_id", ctx.principal.token_id},
                                 {"position", access.position()},
                                 {"roles", std::move(roles)}});
}

// Writes the export to a temporary file (export_events writes via
// path.tmp + rename) and answers its bytes as a download. With an audit key
// the server records a checkpoint over its head first and puts it in the
// header, so the download verifies with `audit verify --trust-key`.
Reply export_reply(Context& ctx, const std::string& project) {
  auto& access = ctx.app.access();
  events::ExportOptions options;
  options.to_position = ctx.app.services().store.head_position();
  if (auto* checkpoints = ctx.app.services().checkpoints) {
    auto signed_now = checkpoints->record_now("export by " + ctx.principal.user);
    if (!signed_now) {
      throw ApiError(http::status::internal_server_error, "internal",
                     "export not signed: " + signed_now.error().message);
    }
    options.to_position = signed_now->head_position();
    options.checkpoint = *signed_now;
  }
  access.refresh();  // project_of() must know every event up to the export's end
  if (!project.empty()) {
    options.include = [&access, project](const events::Envelope& e) {
      return access.project_of(e) == project;
    };
    options.filter_description = "project=" + project;
  }
  options.include = without_credentials(std::move(options.include), options.filter_description);
  const auto path =
      (std::filesystem::temp_directory_path() / ("wharf-export-" + events::new_uuid() + ".wexp"))
          .string();
  auto summary = events::export_events(ctx.app.services().store, path, options);
  std::string bytes;
  if (summary) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    bytes = std::move(buffer).str();
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!summary) {
    throw ApiError(http::status::internal_server_error, "internal",
                   "export failed: " + summary.error().message);
  }
  spdlog::info("api: {} downloaded an export of positions {}..{} ({}; {} events, {} omitted)",
               ctx.principal.user, summary->from_position, summary->to_position,
               project.empty() ? "whole log" : "project " + project, summary->events_written,
               summary->events_omitted);
  Reply reply;
  reply.response = Response(http::status::ok, ctx.request.version());
  reply.response.set(http::field::content_type, "application/octet-stream");
  reply.response.set(http::field::content_disposition,
                     "attachment; filename=\"wharf-" + (project.empty() ? "log" : project) + "-" +
                         std::to_string(summary->to_position) + ".wexp\"");
  reply.response.set("X-Wharf-Export-To-Position", std::to_string(summary->to_position));
  reply.response.set("X-Wharf-Export-Events", std::to_string(summary->events_written));
  if (options.checkpoint) {
    reply.response.set("X-Wharf-Export-Signed-By",
                       events::to_hex(options.checkpoint->public_key()));
  }
  reply.response.body() = std::move(bytes);
  reply.response.keep_alive(ctx.request.keep_alive());
  reply.response.prepare_payload();
  return reply;
}

}  // namespace

void add_session_routes(App& app) {
  app.add(http::verb::get, "/api/v1/me", Access::kAuthenticated, who_am_i);
  app.add(http::verb::get, "/api/v1/audit/export", Access::kAdmin,
          [](Context& ctx) { return export_reply(ctx, ""); });
  app.add(http::verb::get, "/api/v1/projects/{project}/audit/export", Access::kOwner,
          [](Context& ctx) { return export_reply(ctx, ctx.param("project")); });
}

}  // namespace wharf::api
