#include "api/app.h"

#include <spdlog/spdlog.h>

#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <chrono>

#include "api/api_error.h"
#include "api/tokens.h"
#include "api/websocket_auth.h"
#include "events/ids.h"

namespace wharf::api {

namespace json = boost::json;

const char* access_name(Access access) {
  switch (access) {
    case Access::kPublic:
      return "public";
    case Access::kAuthenticated:
      return "authenticated";
    case Access::kViewer:
      return "viewer";
    case Access::kDeployer:
      return "deployer";
    case Access::kOwner:
      return "owner";
    case Access::kAdmin:
      return "admin";
    case Access::kWebhook:
      return "webhook";
  }
  return "";
}

Reply json_reply(const Request& request, http::status status, const json::value& body) {
  Reply reply;
  reply.response = Response(status, request.version());
  reply.response.set(http::field::content_type, "application/json");
  reply.response.body() = json::serialize(body);
  reply.response.keep_alive(request.keep_alive());
  reply.response.prepare_payload();
  return reply;
}

Reply error_reply(const Request& request, http::status status, const std::string& code,
                  const std::string& message, const json::value& details) {
  Reply reply;
  reply.response = Response(status, request.version());
  reply.response.set(http::field::content_type, "application/json");
  reply.response.body() = error_body(code, message, details);
  reply.response.keep_alive(request.keep_alive());
  reply.response.prepare_payload();
  return reply;
}

// ---- Context ----

const std::string& Context::param(const std::string& name) const {
  static const std::string empty;
  auto it = params.find(name);
  return it == params.end() ? empty : it->second;
}

std::optional<std::string> Context::query_value(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> Context::query_uint(const std::string& name) const {
  auto v = query_value(name);
  if (!v) return std::nullopt;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size()) {
    throw bad_request("wrong_type",
                      "query parameter \"" + name + "\" must be a non-negative integer",
                      json::object{{"field", name}, {"expected", "a non-negative integer"}});
  }
  return n;
}

void Context::require(const std::string& project, wharf::v1::Role role) const {
  if (app.access().allows(principal, project, role)) return;
  const std::string action = std::string(request.method_string()) + " " +
                             std::string(request.target().substr(0, request.target().find('?')));
  app.audit_denied(principal, project, action, role);
  throw ApiError(http::status::forbidden, "forbidden",
                 "user \"" + principal.user + "\" needs role " + role_name(role) +
                     " on project \"" + project + "\"",
                 json::object{{"missing_role", role_name(role)}, {"project", project}});
}

void Context::require_admin() const {
  if (principal.admin) return;
  const std::string action = std::string(request.method_string()) + " " +
                             std::string(request.target().substr(0, request.target().find('?')));
  app.audit_denied(principal, "", action, wharf::v1::ROLE_UNSPECIFIED);
  throw ApiError(http::status::forbidden, "forbidden",
                 "user \"" + principal.user + "\" needs the admin role",
                 json::object{{"missing_role", "admin"}, {"project", nullptr}});
}

wharf::v1::Actor Context::actor() const {
  wharf::v1::Actor actor;
  actor.set_id(principal.user);
  actor.set_channel(wharf::v1::CHANNEL_API);
  return actor;
}

// ---- App ----

App::App(const ServerConfig& config, Services& services, MetricsRegistry& metrics)
    : config_(config),
      services_(services),
      metrics_(metrics),
      access_(services.store),
      response_cache_(config.response_cache_entries),
      static_files_(config.ui_dir),
      requests_(metrics.counter("wharf_http_requests_total", "HTTP requests by route and status",
                                {"method", "route", "status"})),
      latency_(metrics.histogram("wharf_http_request_duration_seconds",
                                 "HTTP request latency by route", {"method", "route"})) {
  metrics.gauge_function("wharf_token_cache_lookups",
                         "bearer token lookups by cache result (cumulative)", {"result"}, [this] {
                           const auto stats = access_.token_cache_stats();
                           return std::vector<MetricsRegistry::Sample>{
                               {{"hit"}, static_cast<double>(stats.hits)},
                               {{"miss"}, static_cast<double>(stats.misses)}};
                         });
  metrics.gauge_function("wharf_token_cache_entries", "bearer tokens in the lookup cache", {},
                         [this] {
                           return std::vector<MetricsRegistry::Sample>{
                               {{}, static_cast<double>(access_.token_cache_stats().entries)}};
                         });
  add_ops_routes(*this);
  add_event_routes(*this);
  add_access_routes(*this);
  add_webhook_routes(*this);
  add_session_routes(*this);
  add_target_routes(*this);
  if (services.queries != nullptr && services.commands != nullptr) {
    add_project_routes(*this);
    add_run_routes(*this);
    add_environment_routes(*this);
    add_maintenance_routes(*this);
    add_canary_routes(*this);
  }
  if (services.queries != nullptr) add_audit_routes(*this);
  if (services.queries != nullptr) add_insights_routes(*this);
}

void App::add(http::verb method, std::string pattern, Access access, Handler handler) {
  router_.add(method, std::move(pattern), RouteDef{access, std::move(handler)});
}

std::vector<App::RouteInfo> App::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& r : router_.routes()) {
    out.push_back(RouteInfo{std::string(http::to_string(r.method)), r.pattern, r.payload.access});
  }
  return out;
}

int64_t App::now_us() const {
  return services_.clock_us ? services_.clock_us() : api::now_us();
}

void App::audit_denied(const Principal& who, const std::string& project, const std::string& action,
                       wharf::v1::Role missing) {
  events::Envelope event;
  event.set_event_id(events::new_uuid());
  event.set_occurred_at_us(now_us());
  event.mutable_actor()->set_id(who.user);
  event.mutable_actor()->set_channel(wharf::v1::CHANNEL_API);
  auto* denied = event.mutable_payload()->mutable_access_denied();
  denied->set_project_id(project);
  denied->set_user(who.user);
  denied->set_action(action);
  denied->set_missing_role(missing);
  // Global denials (admin routes) go to stream "access"; project ones beside its roles.
  const std::string stream = project.empty() ? "access" : "access-" + project;
  auto appended = services_.store.append(stream, events::ExpectedVersion::any(), {event});
  if (!appended) {
    spdlog::warn("api: could not record AccessDenied for {} on {}: {}", who.user, action,
                 appended.error().message);
  }
}

void App::wait_for_position(uint64_t position) {
  auto& store = services_.store;
  if (store.head_position() >= position) return;
  const auto deadline = std::chrono::steady_clock::now() + config_.min_position_wait;
  while (store.head_position() < position && std::chrono::steady_clock::now() < deadline) {
    store.wait_for_head_beyond(position - 1, deadline);
  }
  if (store.head_position() < position) {
    throw ApiError(http::status::service_unavailable, "position_not_reached",
                   "the log has not reached position " + std::to_string(position) + " yet",
                   json::object{{"min_position", position}, {"head", store.head_position()}});
  }
}

bool accepts_query_token(const Context& ctx) {
  if (ctx.request.method() != http::verb::get) return false;
  if (ctx.route == "/api/v1/events/stream") return true;
  return ctx.route == "/api/v1/projects/{project}/environments/{environment}/logs" &&
         ctx.query_value("follow").value_or("false") == "true";
}

void App::authenticate(Context& ctx, Access access) {
  if (access == Access::kPublic || access == Access::kWebhook) return;
  std::string token;
  auto auth = ctx.request[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer) {
    token = std::string(auth.substr(kBearer.size()));
  } else if (auto offered =
                 boost::beast::websocket::is_upgrade(ctx.request)
                     ? bearer_from_subprotocols(ctx.request[http::field::sec_websocket_protocol])
                     : std::nullopt) {
    token = std::move(*offered);  // a browser's WebSocket cannot set headers either
  } else if (auto q = ctx.query_value("access_token")) {
    // Only where a browser cannot send a header (EventSource): a token in a
    // URL ends up in proxy logs and browser history.
    if (!accepts_query_token(ctx)) {
      throw ApiError(http::status::unauthorized, "access_token_not_accepted",
                     "?access_token= is accepted only on the event stream "
                     "(/api/v1/events/stream) and on following service logs; send the header "
                     "\"Authorization: Bearer <token>\"",
                     json::object{{"route", ctx.route}});
    }
    token = *q;
  }
  if (token.empty()) {
    throw ApiError(http::status::unauthorized, "unauthenticated",
                   "missing bearer token (header \"Authorization: Bearer <token>\")");
  }
  auto check = access_.check_token(token, now_us());
  if (check.status == AccessIndex::TokenStatus::kUnknown) {
    throw ApiError(http::status::unauthorized, "invalid_token", "unknown bearer token");
  }
  if (check.status == AccessIndex::TokenStatus::kRevoked) {
    throw ApiError(http::status::unauthorized, "token_revoked",
                   "bearer token " + check.principal.token_id + " was revoked",
                   json::object{{"token_id", check.principal.token_id}});
  }
  if (check.status == AccessIndex::TokenStatus::kExpired) {
    throw ApiError(http::status::unauthorized, "token_expired",
                   "bearer token " + check.principal.token_id +
                       " expired; create a new one with "
                       "`wharf token create`",
                   json::object{{"token_id", check.principal.token_id},
                                {"expired_at_us", check.expires_at_us}});
  }
  ctx.principal = check.principal;
  const std::string& project = ctx.param("project");
  switch (access) {
    case Access::kViewer:
      ctx.require(project, wharf::v1::ROLE_VIEWER);
      break;
    case Access::kDeployer:
      ctx.require(project, wharf::v1::ROLE_DEPLOYER);
      break;
    case Access::kOwner:
      ctx.require(project, wharf::v1::ROLE_OWNER);
      break;
    case Access::kAdmin:
      ctx.require_admin();
      break;
    default:
      break;
  }
}

Reply App::dispatch(const Request& request, std::string& route_label, const std::string& remote) {
  const std::string_view target(request.target().data(), request.target().size());
  auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    return error_reply(request, http::status::bad_request, "bad_target",
                       "request target is not a valid path: " + url.error().message());
  }
  std::string path(url->encoded_path());
  const auto method = request.method();
  if (services_.route_command && method != http::verb::get && method != http::verb::head &&
      method != http::verb::options) {
    if (auto routed = services_.route_command(request)) {
      route_label = "forwarded";
      return std::move(*routed);
    }
  }
  auto match = router_.match(request.method(), path);
  using Kind = Router<RouteDef>::Match::Kind;
  if (match.kind == Kind::kBadPath) {
    return error_reply(request, http::status::bad_request, "bad_target",
                       "request path has an invalid percent-escape");
  }
  if (match.kind == Kind::kNotFound) {
    if (auto file = static_files_.serve(request, path)) {
      route_label = "static";
      Reply reply;
      reply.response = std::move(*file);
      return reply;
    }
    return error_reply(request, http::status::not_found, "route_not_found", "no route " + path,
                       json::object{{"path", path}});
  }
  if (match.kind == Kind::kMethodNotAllowed) {
    std::string allow;
    json::array methods;
    for (auto m : match.allowed) {
      if (!allow.empty()) allow += ", ";
      allow += std::string(http::to_string(m));
      methods.emplace_back(std::string(http::to_string(m)));
    }
    auto reply = error_reply(request, http::status::method_not_allowed, "method_not_allowed",
                             std::string(request.method_string()) + " is not allowed on " + path,
                             json::object{{"allowed", methods}});
    reply.response.set(http::field::allow, allow);
    return reply;
  }
  route_label = match.route->pattern;
  Context ctx{*this, request, std::move(match.params), {}, {}, route_label, remote};
  for (const auto& qp : url->params()) ctx.query.emplace(qp.key, qp.value);
  const auto& def = match.route->payload;
  authenticate(ctx, def.access);
  if (auto min = ctx.query_uint("min_position"); min && *min > 0) wait_for_position(*min);
  return def.handler(ctx);
}

Reply App::handle(const Request& request, const std::string& remote) {
  const auto started = std::chrono::steady_clock::now();
  std::string route_label = "unmatched";
  Reply reply;
  try {
    reply = dispatch(request, route_label, remote);
  } catch (const ApiError& e) {
    reply = error_reply(request, e.status(), e.code(), e.what(), e.details());
    if (e.status() == http::status::unauthorized) {
      reply.response.set(http::field::www_authenticate, "Bearer realm=\"wharf\"");
    }
  } catch (const std::exception& e) {
    spdlog::error("api: {} {} failed: {}", std::string(request.method_string()),
                  std::string(request.target()), e.what());
    reply = error_reply(request, http::status::internal_server_error, "internal",
                        "internal error; the server log has details");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string method =
      request.method() == http::verb::unknown ? "other" : std::string(request.method_string());
  requests_.inc({method, route_label, std::to_string(reply.response.result_int())});
  latency_.observe(seconds, {method, route_label});
  return reply;
}

}  // namespace wharf::api
