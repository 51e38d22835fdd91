#pragma once
// The API without its transport: routes, auth, JSON in and out. The Server
// feeds it parsed requests; the fuzz target and unit tests call it directly.
// handle() never throws: every failure becomes a JSON error response.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/targets/probe.h"
#include "api/access_index.h"
#include "api/config.h"
#include "api/metrics.h"
#include "api/response_cache.h"
#include "api/router.h"
#include "api/static_files.h"
#include "events/event_store.h"
#include "wharf/v1/project.pb.h"

namespace wharf::events {
class PeriodicCheckpoints;
}  // namespace wharf::events
namespace wharf::runtime {
class CommandBus;
}
namespace wharf::router {
class LocalCanaryTarget;
}
namespace wharf::projections {
class Queries;
}

namespace wharf::api {

class MaintenanceHost;
namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A webhook delivery that passed the signature check, handed to the adapter
// that registered for its kind ("gerrit", "generic").
struct WebhookDelivery {
  std::string kind;
  std::string project_id;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};
struct WebhookResult {
  unsigned status = 202;
  boost::json::value body = boost::json::object();
};
using WebhookHandler = std::function<WebhookResult(const WebhookDelivery&)>;

// What the API serves from. The store is required; the rest is optional and
// routes that need a missing piece are not registered.
struct Reply;

struct Services {
  explicit Services(events::EventStore& s) : store(s) {}
  events::EventStore& store;
  // Commands (projects, runs, deploys, rollbacks, permissions). Null: those
  // routes are not registered.
  runtime::CommandBus* commands = nullptr;
  // Read models. Null: project/run/version/environment/audit/permission
  // queries are not registered.
  const projections::Queries* queries = nullptr;
  // Where the local runners keep step logs (runtime::read_run_log). Empty:
  // log routes are not registered.
  std::string data_dir;
  std::map<std::string, WebhookHandler> webhooks;  // by kind
  // Service logs and terminals (api/maintenance.h). Null: those routes
  // answer 501 maintenance_unavailable.
  MaintenanceHost* maintenance = nullptr;
  // The local canary router (live counts in the canary status). Null: not shown.
  router::LocalCanaryTarget* canary_router = nullptr;
  // `serve --audit-key`: export downloads carry a checkpoint signed at the
  // time of download. Null: they are unsigned (chain only).
  events::PeriodicCheckpoints* checkpoints = nullptr;
  // Registered targets (docs/targets.md), folded from the log. Null: the
  // /api/v1/targets routes are not registered.
  targets::TargetCatalog* targets = nullptr;
  // Where credentials are sealed (serve --secret-key-file). Null: writes that
  // seal a credential answer 503 no_sealed_store.
  targets::SealedStore* secrets = nullptr;
  // GET /targets/{name}/health?check=true probes the target now through this
  // (serve: the TargetProber). Unset: ?check=true answers 501.
  std::function<targets::ProbeResult(const std::string& name)> probe_target;
  std::function<bool()> ready;  // /readyz; unset = ready once started
  // Cluster mode (docs/cluster.md): the node's role, leader, epoch and lag,
  // shown by /readyz. Unset: single node.
  std::function<boost::json::object()> cluster_status;
  // Cluster mode: asked before any request that is not GET/HEAD/OPTIONS; a
  // reply (307 to the leader, 503 while none is known) answers it instead.
  // Unset, or nullopt: this node handles it.
  std::function<std::optional<Reply>(const Request&)> route_command;
  std::function<int64_t()> clock_us;  // unset = system clock
  // `serve --gerrit-http-*`: POST /projects with "gerrit_create": true sets up
  // the binding's Gerrit project and branches through this before creating
  // the wharf project (adapters/gerrit/project_setup.h); it returns what it
  // did or throws ApiError. Unset: such a request answers 400.
  std::function<wharf::v1::GerritProjectSetup(const wharf::v1::GerritSource&)> gerrit_setup;
};

enum class Access {
  kPublic,         // no token
  kAuthenticated,  // any valid token; the handler scopes what it shows
  kViewer,         // role on the route's {project}
  kDeployer,
  kOwner,
  kAdmin,
  kWebhook,  // per-project HMAC signature instead of a token
};
const char* access_name(Access access);

// Where an SSE stream starts and what it shows; the Server runs the stream.
struct SseStart {
  uint64_t after_position = 0;  // first event sent is the next one after this
  std::string project;          // filter; empty = all the principal may see
  std::string run;
  Principal principal;
};

struct Reply {
  Response response;
  std::optional<SseStart> sse;
  // Set by routes that take the connection over (service logs, the WebSocket
  // terminal: api/maintenance.h): the Server gives up the socket and calls
  // this with its native handle, now the callee's to close, and the request.
  // It runs on a server thread and must not block.
  std::function<void(int fd, Request request)> takeover;
};

class App;

// One request as a handler sees it.
struct Context {
  App& app;
  const Request& request;
  PathParams params;
  std::multimap<std::string, std::string> query;
  Principal principal;
  std::string route;  // the matched pattern
  std::string remote;  // the client's address ("ip:port"; empty when not over a socket)

  const std::string& param(const std::string& name) const;
  std::optional<std::string> query_value(const std::string& name) const;
  // ?name= as an unsigned integer (400 wrong_type otherwise).
  std::optional<uint64_t> query_uint(const std::string& name) const;
  // Throws 403 (and audits the denial) unless the principal holds `role` on `project`.
  void require(const std::string& project, wharf::v1::Role role) const;
  void require_admin() const;
  // The actor to record on events this request causes.
  wharf::v1::Actor actor() const;
};

// Whether the request may carry its token as ?access_token= (the event
// stream and following service logs, which a browser's EventSource opens
// without headers); everywhere else that is a 401.
bool accepts_query_token(const Context& ctx);

using Handler = std::function<Reply(Context&)>;

struct RouteDef {
  Access access = Access::kAuthenticated;
  Handler handler;
};

class App {
 public:
  App(const ServerConfig& config, Services& services, MetricsRegistry& metrics);

  // `remote`: the client's address, for audit events (Context::remote).
  Reply handle(const Request& request, const std::string& remote = {});

  struct RouteInfo {
    std::string method;   // "GET"
    std::string pattern;  // "/api/v1/projects/{project}"
    Access access;
  };
  // Every registered route, for the OpenAPI consistency test and the auth matrix.
  std::vector<RouteInfo> routes() const;

  // Event frames for an SSE stream: reads events after `cursor`, returns the
  // frames the stream may show and advances `cursor` past every event read.
  std::string sse_frames(const SseStart& start, uint64_t& cursor, size_t max_events);

  Services& services() { return services_; }
  AccessIndex& access() { return access_; }
  MetricsRegistry& metrics() { return metrics_; }
  ResponseCache& response_cache() { return response_cache_; }
  const ServerConfig& config() const { return config_; }
  int64_t now_us() const;
  // Appends AccessDenied for the audit view (best effort: a failed append is logged).
  void audit_denied(const Principal& who, const std::string& project, const std::string& action,
                    wharf::v1::Role missing);
  // Waits until the store's head reaches `position` (at most config.min_position_wait).
  void wait_for_position(uint64_t position);

  void add(http::verb method, std::string pattern, Access access, Handler handler);

 private:
  Reply dispatch(const Request& request, std::string& route_label, const std::string& remote);
  void authenticate(Context& ctx, Access access);

  ServerConfig config_;
  Services& services_;
  MetricsRegistry& metrics_;
  AccessIndex access_;
  ResponseCache response_cache_;
  StaticFiles static_files_;  // the web UI at / (config.ui_dir)
  Router<RouteDef> router_;
  Counter& requests_;
  Histogram& latency_;
};

// Response helpers for handlers.
Reply json_reply(const Request& request, http::status status, const boost::json::value& body);
Reply error_reply(const Request& request, http::status status, const std::string& code,
                  const std::string& message, const boost::json::value& details = nullptr);

// Route registration by resource (routes_*.cc).
void add_ops_routes(App& app);
void add_event_routes(App& app);
void add_access_routes(App& app);
void add_webhook_routes(App& app);
void add_project_routes(App& app);   // needs queries + commands
void add_run_routes(App& app);       // needs queries + commands (+ data_dir for logs)
void add_environment_routes(App& app);
void add_audit_routes(App& app);
void add_insights_routes(App& app);  // needs queries: landscape, delivery metrics
void add_maintenance_routes(App& app);
void add_canary_routes(App& app);  // needs commands  // needs queries + commands (+ maintenance)
void add_session_routes(App& app);  // who am I, export downloads
void add_target_routes(App& app);   // needs targets + commands

}  // namespace wharf::api
