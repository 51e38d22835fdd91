// Operations: liveness, readiness, Prometheus metrics. Unversioned and public
// so probes and scrapers need no token.
#include "api/app.h"

namespace wharf::api {

namespace json = boost::json;

void add_ops_routes(App& app) {
  app.add(http::verb::get, "/healthz", Access::kPublic, [](Context& ctx) {
    return json_reply(ctx.request, http::status::ok, json::object{{"status", "ok"}});
  });

  app.add(http::verb::get, "/readyz", Access::kPublic, [](Context& ctx) {
    auto& services = ctx.app.services();
    // Every request needs the access index: not ready before it is caught up.
    const bool access_index = ctx.app.access().caught_up();
    const bool ready = access_index && (!services.ready || services.ready());
    json::object body{{"status", ready ? "ready" : "not_ready"},
                      {"head_position", services.store.head_position()},
                      {"access_index", access_index ? "caught_up" : "catching_up"}};
    if (services.cluster_status) body["cluster"] = services.cluster_status();
    return json_reply(ctx.request, ready ? http::status::ok : http::status::service_unavailable,
                      body);
  });

  app.add(http::verb::get, "/metrics", Access::kPublic, [](Context& ctx) {
    Reply reply;
    reply.response = Response(http::status::ok, ctx.request.version());
    reply.response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    reply.response.body() = ctx.app.metrics().render();
    reply.response.keep_alive(ctx.request.keep_alive());
    reply.response.prepare_payload();
    return reply;
  });
}

}  // namespace wharf::api
