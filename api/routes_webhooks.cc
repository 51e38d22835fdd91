// Webhook endpoints: POST /api/v1/webhooks/{kind}/{project}. The signature
// (webhook_signature.h) replaces the bearer token; the payload goes to the
// adapter registered for `kind` in Services::webhooks (adapters/gerrit for
// "gerrit"). Unknown kinds are 404.
#include <spdlog/spdlog.h>

#include <cctype>

#include "api/api_error.h"
#include "api/app.h"
#include "api/tokens.h"
#include "api/webhook_signature.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

Reply deliver(Context& ctx) {
  auto& app = ctx.app;
  const std::string& kind = ctx.param("kind");
  const std::string& project = ctx.param("project");
  auto handler = app.services().webhooks.find(kind);
  if (handler == app.services().webhooks.end()) {
    throw not_found("no webhook receiver \"" + kind + "\"", json::object{{"kind", kind}});
  }
  app.access().refresh();
  auto recorded = app.access().webhook_secret(project);
  if (!recorded) {
    throw ApiError(http::status::forbidden, "webhook_not_configured",
                   "project \"" + project + "\" has no webhook secret configured",
                   json::object{{"project", project}});
  }
  if (!recorded->sealed) {
    throw ApiError(http::status::forbidden, "webhook_secret_legacy",
                   "project \"" + project +
                       "\" has a webhook secret from before the sealed store, "
                       "whose hash the log and its exports hold; set it again (PUT "
                       "/api/v1/projects/" +
                       project + "/repository) to accept webhooks",
                   json::object{{"project", project}});
  }
  auto* store = app.services().secrets;
  if (store == nullptr) {
    throw ApiError(http::status::service_unavailable, "no_sealed_store",
                   "this server has no sealed store to check webhook secrets against");
  }
  auto secret = store->get(targets::webhook_entry(project), recorded->version);
  if (!secret) {
    spdlog::error("webhooks: {}", secret.error());
    throw ApiError(http::status::internal_server_error, "sealed_store_error",
                   "the webhook secret of project \"" + project +
                       "\" cannot be opened; the "
                       "server log says why",
                   json::object{{"project", project}});
  }
  const auto& body = ctx.request.body();
  auto header = ctx.request["X-Wharf-Signature-256"];
  bool ok = false;
  if (!header.empty()) {
    ok = signature_matches(std::string_view(header.data(), header.size()), body, *secret);
  } else if (auto given = ctx.query_value("secret")) {
    ok = constant_time_equal(*given, *secret);
  } else {
    throw ApiError(http::status::unauthorized, "missing_signature",
                   "webhook needs header X-Wharf-Signature-256: sha256=<hmac> or ?secret=");
  }
  if (!ok) {
    throw ApiError(http::status::unauthorized, "bad_signature",
                   "webhook signature does not match the project's secret",
                   json::object{{"project", project}});
  }
  WebhookDelivery delivery;
  delivery.kind = kind;
  delivery.project_id = project;
  delivery.body = body;
  for (const auto& field : ctx.request) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    delivery.headers[name] = std::string(field.value());
  }
  auto result = handler->second(delivery);
  return json_reply(ctx.request, static_cast<http::status>(result.status), result.body);
}

}  // namespace

void add_webhook_routes(App& app) {
  app.add(http::verb::post, "/api/v1/webhooks/{kind}/{project}", Access::kWebhook, deliver);
}

}  // namespace wharf::api
