// Targets (docs/targets.md): the clusters and servers wharf acts on, by name.
// Everyone with a role sees names, kinds, URLs and health; only admins write;
// nobody reads a credential back (write-only, like a password field). A
// credential is sealed (adapters/targets/sealed_store.h) before the event
// that names its version is appended; the event carries no secret.
#include "adapters/targets/catalog.h"
#include "adapters/targets/pending_credential.h"
#include "adapters/targets/registry.h"
#include "api/api_error.h"
#include "api/app.h"
#include "api/json_input.h"
#include "api/resource_support.h"
#include "engine/target.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

targets::TargetCatalog& catalog(const Context& ctx) {
  return *ctx.app.services().targets;
}

// Anyone who holds a role somewhere (or is an admin) may see targets.
void require_some_role(Context& ctx) {
  if (ctx.principal.admin) return;
  auto& access = ctx.app.access();
  access.refresh();
  if (access.visible_projects(ctx.principal).empty()) {
    throw ApiError(http::status::forbidden, "forbidden",
                   ctx.principal.user +
                       " holds no role on any project; targets are shown to "
                       "users with a role",
                   json::object{{"missing_role", "viewer"}});
  }
}

json::array visible_users(Context& ctx, const std::string& name) {
  auto& access = ctx.app.access();
  json::array out;
  for (const auto& env : catalog(ctx).used_by(name)) {
    const std::string project = env.substr(0, env.find('/'));
    if (access.allows(ctx.principal, project, wharf::v1::ROLE_VIEWER)) out.emplace_back(env);
  }
  return out;
}

json::object health_json(const engine::TargetState& t) {
  json::object h{{"known", t.health_known}};
  if (t.health_known) {
    h["reachable"] = t.reachable;
    h["server_version"] = t.server_version;
    h["error"] = t.health_error;
    h["changed_at_us"] = t.health_changed_at_us;
  }
  return h;
}

// A target as anyone with a role may see it: never a credential.
json::object target_json(Context& ctx, const engine::TargetState& t) {
  const auto& s = t.spec;
  const bool holds = s.credential() != wharf::v1::CREDENTIAL_KIND_NONE;
  return json::object{
      {"name", s.name()},
      {"kind", engine::target_kind_name(s.kind())},
      {"url", s.url()},
      {"ca_file", s.ca_file()},
      {"insecure_skip_tls_verify", s.insecure_skip_tls_verify()},
      {"namespace", s.default_namespace()},
      {"endpoint_id", s.endpoint_id()},
      {"description", s.description()},
      {"credential", json::object{{"kind", engine::credential_kind_name(s.credential())},
                                  {"version", holds ? t.credential_version : 0}}},
      {"health", health_json(t)},
      {"used_by", visible_users(ctx, s.name())},
  };
}

engine::TargetState existing(Context& ctx, const std::string& name) {
  catalog(ctx).refresh();
  auto t = catalog(ctx).get(name);
  if (!t) throw not_found("no target \"" + name + "\"", json::object{{"target", name}});
  return *t;
}

// Fields of a target body (POST, PUT) and of its credential.
#define WHARF_TARGET_FIELDS                                                                 \
  "name", "kind", "url", "ca_file", "insecure_skip_tls_verify", "namespace", "endpoint_id", \
      "description", "credential", "reason"
#define WHARF_CREDENTIAL_FIELDS                                                                  \
  "kind", "token", "token_file", "api_key", "username", "password", "user", "cert", "cert_file", \
      "key", "key_file"

// The non-secret part of a body (POST, PUT).
wharf::v1::TargetSpec spec_of(const JsonBody& body, const std::string& name) {
  wharf::v1::TargetSpec spec;
  spec.set_name(name);
  const std::string kind =
      *body.enum_value("kind", {"kubernetes", "portainer", "jenkins", "zookeeper"}, true);
  spec.set_kind(engine::target_kind_from_name(kind));
  spec.set_url(body.required_string("url"));
  spec.set_ca_file(body.optional_string("ca_file").value_or(""));
  spec.set_insecure_skip_tls_verify(body.optional_bool("insecure_skip_tls_verify").value_or(false));
  spec.set_default_namespace(body.optional_string("namespace").value_or(""));
  spec.set_endpoint_id(body.optional_string("endpoint_id").value_or(""));
  spec.set_description(body.optional_string("description").value_or(""));
  return spec;
}

struct Credential {
  wharf::v1::CredentialKind kind = wharf::v1::CREDENTIAL_KIND_NONE;
  targets::CredentialFields fields;
};

Credential credential_of(const JsonBody& body, bool required) {
  Credential c;
  if (!body.has("credential")) {
    if (required) {
      throw bad_request("missing_field", "field \"credential\" is required",
                        json::object{{"field", "credential"}});
    }
    return c;
  }
  auto o = body.object("credential", {WHARF_CREDENTIAL_FIELDS}, true);
  const std::string kind = *o.enum_value("kind",
                                         {"none", "bearer_token", "service_account", "client_cert",
                                          "api_key", "user_password", "user_token"},
                                         true);
  engine::credential_kind_from_name(kind, c.kind);
  for (const char* f : {"token", "token_file", "api_key", "username", "password", "user", "cert",
                        "cert_file", "key", "key_file"}) {
    if (auto v = o.optional_string(f)) c.fields[f] = *v;
  }
  if (auto ok = targets::check_credential(c.kind, c.fields); !ok) {
    throw bad_request("invalid_credential", ok.error(), json::object{{"field", "credential"}});
  }
  return c;
}

bool sealed_kind(wharf::v1::CredentialKind kind) {
  return kind != wharf::v1::CREDENTIAL_KIND_NONE &&
         kind != wharf::v1::CREDENTIAL_KIND_SERVICE_ACCOUNT;
}

targets::SealedStore& sealed(Context& ctx) {
  auto* store = ctx.app.services().secrets;
  if (store == nullptr) {
    throw ApiError(http::status::service_unavailable, "no_sealed_store",
                   "this server has no sealed store for credentials (serve --secret-key-file)");
  }
  return *store;
}

// Seals the credential as `version`, runs `command`, and on a refusal takes
// the sealed file back, so no version outlives the event that would name it.
runtime::CommandResult seal_and_run(Context& ctx, const std::string& name,
                                    const Credential& credential, uint32_t version,
                                    const engine::Command& command) {
  auto pending = targets::PendingCredential::seal(version > 0 ? &sealed(ctx) : nullptr,
                                                  targets::target_entry(name), version,
                                                  targets::encode_credential(credential.fields));
  if (!pending) {
    throw ApiError(http::status::internal_server_error, "sealed_store_error", pending.error());
  }
  auto result = execute_command(ctx, command);  // throws: the destructor takes it back
  pending->keep();
  return result;
}

Reply target_reply(Context& ctx, http::status status, const std::string& name,
                   const runtime::CommandResult& result) {
  catalog(ctx).refresh();
  auto t = catalog(ctx).get(name);
  json::object body = t ? target_json(ctx, *t) : json::object{{"name", name}};
  body["position"] = result.last_position;
  return json_reply(ctx.request, status, body);
}

Reply list_targets(Context& ctx) {
  require_some_role(ctx);
  catalog(ctx).refresh();
  json::array list;
  for (const auto& t : catalog(ctx).list()) list.emplace_back(target_json(ctx, t));
  return json_reply(ctx.request, http::status::ok,
                    json::object{{"targets", list}, {"position", catalog(ctx).position()}});
}

Reply get_target(Context& ctx) {
  require_some_role(ctx);
  auto t = existing(ctx, ctx.param("name"));
  return json_reply(ctx.request, http::status::ok, target_json(ctx, t));
}

Reply target_health(Context& ctx) {
  require_some_role(ctx);
  auto t = existing(ctx, ctx.param("name"));
  json::object body = health_json(t);
  body["name"] = t.spec.name();
  body["used_by"] = visible_users(ctx, t.spec.name());
  if (ctx.query_value("check").value_or("false") == "true") {
    const auto& probe = ctx.app.services().probe_target;
    if (!probe) {
      throw ApiError(http::status::not_implemented, "probe_unavailable",
                     "this server does not probe targets");
    }
    const targets::ProbeResult now = probe(t.spec.name());
    body["check"] = json::object{
        {"reachable", now.reachable}, {"server_version", now.server_version}, {"error", now.error}};
  }
  return json_reply(ctx.request, http::status::ok, body);
}

Reply register_target(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {WHARF_TARGET_FIELDS});
  const std::string name = body.required_string("name");
  if (!engine::valid_target_name(name)) {
    throw bad_request("invalid_value",
                      "target name must match [A-Za-z0-9._-]{1,64} and not "
                      "start with \".\"",
                      json::object{{"field", "name"}, {"value", name}});
  }
  auto spec = spec_of(body, name);
  const Credential credential = credential_of(body, false);
  spec.set_credential(credential.kind);
  catalog(ctx).refresh();
  const uint32_t version =
      sealed_kind(credential.kind) ? catalog(ctx).last_credential_version(name) + 1 : 0;
  engine::RegisterTarget command{spec, version, body.optional_string("reason").value_or("")};
  auto result = seal_and_run(ctx, name, credential, version, command);
  return target_reply(ctx, http::status::created, name, result);
}

Reply update_target(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {WHARF_TARGET_FIELDS});
  const std::string& name = ctx.param("name");
  if (auto given = body.optional_string("name"); given && *given != name) {
    throw bad_request("invalid_value", "the body names another target than the path",
                      json::object{{"field", "name"}, {"value", *given}});
  }
  if (body.has("credential")) {
    throw bad_request("invalid_value",
                      "credentials change through POST /api/v1/targets/" + name + "/credentials",
                      json::object{{"field", "credential"}});
  }
  auto current = existing(ctx, name);
  auto spec = spec_of(body, name);
  spec.set_credential(current.spec.credential());
  engine::UpdateTarget command{spec, body.optional_string("reason").value_or("")};
  auto result = execute_command(ctx, command);
  return target_reply(ctx, http::status::ok, name, result);
}

Reply rotate_credentials(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"credential", "reason"});
  const std::string& name = ctx.param("name");
  auto current = existing(ctx, name);
  const Credential credential = credential_of(body, true);
  if (!sealed_kind(credential.kind)) {
    throw bad_request("invalid_credential",
                      "a rotation seals a new credential; \"" +
                          std::string(engine::credential_kind_name(credential.kind)) +
                          "\" holds none",
                      json::object{{"field", "credential.kind"}});
  }
  const uint32_t version = current.credential_version + 1;
  engine::RotateTargetCredentials command{name, version, credential.kind,
                                          body.optional_string("reason").value_or("")};
  auto result = seal_and_run(ctx, name, credential, version, command);
  return target_reply(ctx, http::status::ok, name, result);
}

Reply remove_target(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"reason"});
  const std::string& name = ctx.param("name");
  existing(ctx, name);
  auto used = catalog(ctx).used_by(name);
  if (!used.empty()) {
    json::array envs;
    std::string list;
    for (const auto& u : used) {
      envs.emplace_back(u);
      list += (list.empty() ? "" : ", ") + u;
    }
    throw ApiError(http::status::conflict, "target_in_use",
                   "target " + name + " is in use by " + list +
                       "; point those environments at another target first",
                   json::object{{"target", name}, {"environments", envs}});
  }
  engine::RemoveTarget command{name, used, body.optional_string("reason").value_or("")};
  auto result = execute_command(ctx, command);
  if (auto* store = ctx.app.services().secrets) store->prune(targets::target_entry(name), 0);
  return json_reply(
      ctx.request, http::status::ok,
      json::object{{"name", name}, {"removed", true}, {"position", result.last_position}});
}

}  // namespace

void add_target_routes(App& app) {
  if (app.services().targets == nullptr || app.services().commands == nullptr) return;
  app.add(http::verb::get, "/api/v1/targets", Access::kAuthenticated, list_targets);
  app.add(http::verb::post, "/api/v1/targets", Access::kAdmin, register_target);
  app.add(http::verb::get, "/api/v1/targets/{name}", Access::kAuthenticated, get_target);
  app.add(http::verb::put, "/api/v1/targets/{name}", Access::kAdmin, update_target);
  app.add(http::verb::delete_, "/api/v1/targets/{name}", Access::kAdmin, remove_target);
  app.add(http::verb::post, "/api/v1/targets/{name}/credentials", Access::kAdmin,
          rotate_credentials);
  app.add(http::verb::get, "/api/v1/targets/{name}/health", Access::kAuthenticated, target_health);
}

}  // namespace wharf::api
