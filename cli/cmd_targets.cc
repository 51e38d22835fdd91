// `wharf target add|list|show|rotate|check|rm` (docs/targets.md) through the
// HTTP API of a running `wharf serve` (--server, WHARF_SERVER; --token,
// WHARF_TOKEN: an admin's for writes), and `wharf targets migrate`, which
// moves credentials that old environment definitions hold in their settings
// into targets and re-defines those environments by reference.
//
// A secret never goes on the command line (ps, shell history): it is read
// from stdin (--secret-stdin) or from an environment variable of this CLI
// (--secret-env NAME), or stored as a reference the server resolves when it
// uses it (--secret-ref env:NAME, --token-file PATH); a client certificate
// and key are read from files by this CLI (--client-cert, --client-key).
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "api/event_json.h"
#include "cli/api_client.h"
#include "cli/commands.h"
#include "engine/target.h"
#include "events/event_store.h"

namespace wharf::cli {
namespace {

namespace json = boost::json;

struct TargetArgs {
  ServerOptions api;
  std::string name, kind, url, ca_file, ns, endpoint, description, reason;
  bool insecure = false;
  std::string credential = "none";  // credential kind
  std::string user;                 // Jenkins user / Portainer username
  bool secret_stdin = false;
  std::string secret_env, secret_ref, token_file;
  std::string client_cert, client_key;  // client_cert: PEM files this CLI reads
};

std::string send(const ServerOptions& api, const std::string& method, const std::string& path,
                 const json::value& body = nullptr) {
  auto request = api_request(api, method, path);
  if (!body.is_null()) {
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = json::serialize(body);
  }
  return call_api(api, request);
}

// The secret the flags name: stdin, this CLI's environment, or a reference.
std::string secret_of(const TargetArgs& a) {
  if (a.secret_stdin) {
    std::string line;
    std::getline(std::cin, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.empty()) throw std::runtime_error("--secret-stdin: nothing on stdin");
    return line;
  }
  if (!a.secret_env.empty()) {
    const char* v = std::getenv(a.secret_env.c_str());
    if (v == nullptr || *v == '\0') {
      throw std::runtime_error("--secret-env: " + a.secret_env + " is not set");
    }
    return v;
  }
  if (!a.secret_ref.empty()) {
    if (a.secret_ref.rfind("env:", 0) != 0) {
      throw std::runtime_error("--secret-ref must look like env:NAME (read by the server)");
    }
    return a.secret_ref;
  }
  return "";
}

std::string read_pem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) throw std::runtime_error(std::string(flag) + ": cannot read " + path);
  return text;
}

json::object credential_of(const TargetArgs& a) {
  json::object c{{"kind", a.credential}};
  if (a.credential == "client_cert") {
    if (a.client_cert.empty() || a.client_key.empty()) {
      throw std::runtime_error("a client_cert credential needs --client-cert and --client-key");
    }
    c["cert"] = read_pem(a.client_cert, "--client-cert");
    c["key"] = read_pem(a.client_key, "--client-key");
    return c;
  }
  const std::string secret = secret_of(a);
  auto need = [&](const char* what) {
    if (secret.empty()) {
      throw std::runtime_error(std::string("a ") + a.credential + " credential needs " + what +
                               " (--secret-stdin, --secret-env NAME or --secret-ref env:NAME)");
    }
  };
  if (a.credential == "bearer_token") {
    if (!a.token_file.empty()) {
      c["token_file"] = a.token_file;
    } else {
      need("a token");
      c["token"] = secret;
    }
  } else if (a.credential == "api_key") {
    need("an API key");
    c["api_key"] = secret;
  } else if (a.credential == "user_password") {
    need("a password");
    c["username"] = a.user;
    c["password"] = secret;
  } else if (a.credential == "user_token") {
    need("an API token");
    c["user"] = a.user;
    c["token"] = secret;
  }
  return c;
}

json::object spec_of(const TargetArgs& a) {
  json::object o{{"kind", a.kind}, {"url", a.url}};
  if (!a.ca_file.empty()) o["ca_file"] = a.ca_file;
  if (a.insecure) o["insecure_skip_tls_verify"] = true;
  if (!a.ns.empty()) o["namespace"] = a.ns;
  if (!a.endpoint.empty()) o["endpoint_id"] = a.endpoint;
  if (!a.description.empty()) o["description"] = a.description;
  if (!a.reason.empty()) o["reason"] = a.reason;
  return o;
}

void print(const std::string& body) {
  std::printf("%s\n", body.c_str());
}

void list(const TargetArgs& a) {
  auto v = json::parse(send(a.api, "GET", "/targets"));
  std::printf("%-20s %-11s %-40s %-12s %s\n", "NAME", "KIND", "URL", "REACHABLE", "USED BY");
  for (const auto& t : v.at("targets").as_array()) {
    const auto& h = t.at("health").as_object();
    std::string reach = !h.at("known").as_bool()      ? "unknown"
                        : h.at("reachable").as_bool() ? "yes"
                                                      : "no";
    std::string used;
    for (const auto& u : t.at("used_by").as_array()) {
      used += (used.empty() ? "" : ",") + std::string(u.as_string());
    }
    std::printf("%-20s %-11s %-40s %-12s %s\n", std::string(t.at("name").as_string()).c_str(),
                std::string(t.at("kind").as_string()).c_str(),
                std::string(t.at("url").as_string()).c_str(), reach.c_str(), used.c_str());
  }
}

// ---- migrate ----

struct MigrateArgs {
  ServerOptions api;
  bool dry_run = false;
};

// Settings keys that say where the cluster is or how to log in: they move to
// the target (or are dropped), never stay on the environment.
const std::set<std::string> kConnectionKeys = {
    "api_url",       "token_file",  "ca_file",  "insecure_skip_tls_verify",
    "portainer_url", "endpoint_id", "username", "user"};

std::string setting(const google::protobuf::Map<std::string, std::string>& s, const char* key) {
  auto it = s.find(key);
  return it == s.end() ? "" : it->second;
}

// The environment as the API's PUT body, by reference to `target`.
json::object environment_body(const wharf::v1::EnvironmentSpec& env, const std::string& target) {
  json::object body = api::message_json(env).as_object();
  body.erase("target_ref");
  body["target"] = env.target() == wharf::v1::TARGET_TYPE_KUBERNETES ? "kubernetes" : "swarm";
  body["target_ref"] = target;
  json::object settings;
  for (const auto& [k, v] : env.settings()) {
    if (engine::credential_named(k) || kConnectionKeys.count(k)) continue;
    settings[k] = v;
  }
  body["settings"] = settings;
  return body;
}

void migrate(const MigrateArgs& a) {
  events::StoreOptions options;
  options.read_only = true;  // beside a running server
  auto opened = events::EventStore::open(store_dir(global_options().data_dir), options);
  if (!opened) throw std::runtime_error("cannot open the log: " + opened.error().message);
  auto& store = *opened;
  // The newest definition of each environment (project/env -> spec).
  std::map<std::string, std::pair<std::string, wharf::v1::EnvironmentSpec>> latest;
  auto scanned = store->scan(1, 0, [&](const events::Envelope& e) {
    const auto& p = e.payload();
    if (p.has_project_created()) {
      for (const auto& env : p.project_created().environments()) {
        latest[p.project_created().project_id() + "/" + env.name()] = {
            p.project_created().project_id(), env};
      }
    } else if (p.has_environment_defined()) {
      const auto& d = p.environment_defined();
      latest[d.project_id() + "/" + d.environment().name()] = {d.project_id(), d.environment()};
    }
    return true;
  });
  if (!scanned) throw std::runtime_error("reading the log: " + scanned.error().message);
  int moved = 0;
  for (const auto& [where, entry] : latest) {
    const auto& [project, env] = entry;
    const bool kubernetes = env.target() == wharf::v1::TARGET_TYPE_KUBERNETES;
    const bool swarm = env.target() == wharf::v1::TARGET_TYPE_SWARM;
    bool holds = false;
    for (const auto& [k, v] : env.settings()) holds = holds || engine::credential_named(k);
    if (!(kubernetes || swarm) || !env.target_ref().empty()) continue;
    const auto& s = env.settings();
    const std::string url = setting(s, kubernetes ? "api_url" : "portainer_url");
    if (url.empty() && !holds) continue;
    // One target per environment: "<project>-<environment>" (merge by hand later if you like).
    const std::string name = project + "-" + env.name();
    json::object target{{"name", name},
                        {"kind", kubernetes ? "kubernetes" : "portainer"},
                        {"url", url},
                        {"reason", "wharf targets migrate: from the settings of " + where}};
    if (!setting(s, "ca_file").empty()) target["ca_file"] = setting(s, "ca_file");
    if (setting(s, "insecure_skip_tls_verify") == "true") target["insecure_skip_tls_verify"] = true;
    json::object credential;
    if (kubernetes) {
      if (!setting(s, "token").empty()) {
        credential = {{"kind", "bearer_token"}, {"token", setting(s, "token")}};
      } else if (!setting(s, "token_file").empty()) {
        credential = {{"kind", "bearer_token"}, {"token_file", setting(s, "token_file")}};
      } else {
        credential = {{"kind", "service_account"}};
      }
    } else {
      target["endpoint_id"] = setting(s, "endpoint_id").empty() ? "1" : setting(s, "endpoint_id");
      if (!setting(s, "api_key").empty()) {
        credential = {{"kind", "api_key"}, {"api_key", setting(s, "api_key")}};
      } else {
        credential = {{"kind", "user_password"},
                      {"username", setting(s, "username")},
                      {"password", setting(s, "password")}};
      }
    }
    target["credential"] = credential;
    std::printf("%s: target %s (%s) <- settings %s\n", where.c_str(), name.c_str(), url.c_str(),
                holds ? "with a credential" : "without a credential");
    ++moved;
    if (a.dry_run) continue;
    send(a.api, "POST", "/targets", target);
    send(a.api, "PUT", "/projects/" + project + "/environments/" + env.name(),
         environment_body(env, name));
  }
  std::printf(
      "%s %d environment(s); old events keep their settings, shown masked and exported "
      "as placeholders (docs/targets.md#the-past)\n",
      a.dry_run ? "would move" : "moved", moved);
}

}  // namespace

void register_target_commands(CLI::App& app) {
  auto& target = group(app, "target",
                       "targets: the clusters and servers wharf deploys to, by name, with "
                       "sealed credentials (docs/targets.md)");
  auto args = std::make_shared<TargetArgs>();
  auto spec_options = [args](CLI::App* cmd) {
    cmd->add_option("--kind", args->kind, "kubernetes, portainer, jenkins or zookeeper")
        ->required()
        ->check(CLI::IsMember({"kubernetes", "portainer", "jenkins", "zookeeper"}));
    cmd->add_option("--url", args->url,
                    "API root, e.g. https://k8s.example:6443; zookeeper://zk1:2181,zk2:2181")
        ->required();
    cmd->add_option("--ca-file", args->ca_file, "CA bundle on the server's host");
    cmd->add_flag("--insecure", args->insecure, "skip TLS verification (test clusters)");
    cmd->add_option("--namespace", args->ns, "Kubernetes default namespace");
    cmd->add_option("--endpoint", args->endpoint, "Portainer endpoint id");
    cmd->add_option("--description", args->description, "what it is");
  };
  auto credential_options = [args](CLI::App* cmd) {
    cmd->add_option("--credential", args->credential,
                    "none, bearer_token, service_account, client_cert, api_key, user_password, "
                    "user_token")
        ->check(CLI::IsMember({"none", "bearer_token", "service_account", "client_cert", "api_key",
                               "user_password", "user_token"}))
        ->capture_default_str();
    cmd->add_option("--user", args->user, "Jenkins user / Portainer or ZooKeeper username");
    cmd->add_flag("--secret-stdin", args->secret_stdin,
                  "read the token, API key or password from stdin");
    cmd->add_option("--secret-env", args->secret_env,
                    "read it from this environment variable of the CLI");
    cmd->add_option("--secret-ref", args->secret_ref,
                    "store a reference the server resolves when it uses it: env:NAME");
    cmd->add_option("--token-file", args->token_file,
                    "bearer_token: a file on the server's host holding the token (read when used)");
    cmd->add_option("--client-cert", args->client_cert,
                    "client_cert: the certificate's PEM file (read by this CLI, sealed)");
    cmd->add_option("--client-key", args->client_key,
                    "client_cert: the private key's PEM file (read by this CLI, sealed)");
  };
  auto reason = [args](CLI::App* cmd) {
    cmd->add_option("--reason", args->reason, "why (recorded in the event)");
  };

  auto* add =
      target.add_subcommand("add", "register a target (admin); prints it, never the secret");
  add_server_options(add, args->api, "an admin's");
  add->add_option("name", args->name, "target name, [A-Za-z0-9._-]{1,64}")->required();
  spec_options(add);
  credential_options(add);
  reason(add);
  add->callback([args] {
    json::object body = spec_of(*args);
    body["name"] = args->name;
    body["credential"] = credential_of(*args);
    print(send(args->api, "POST", "/targets", body));
  });

  auto* ls = target.add_subcommand("list", "targets with their reachability and users");
  add_server_options(ls, args->api, "any role's");
  ls->callback([args] { list(*args); });

  auto* show = target.add_subcommand("show", "one target as JSON (never its credential)");
  add_server_options(show, args->api, "any role's");
  show->add_option("name", args->name, "target name")->required();
  show->callback([args] { print(send(args->api, "GET", "/targets/" + args->name)); });

  auto* rotate =
      target.add_subcommand("rotate", "seal a new credential (admin); the next deploy uses it");
  add_server_options(rotate, args->api, "an admin's");
  rotate->add_option("name", args->name, "target name")->required();
  credential_options(rotate);
  reason(rotate);
  rotate->callback([args] {
    json::object body{{"credential", credential_of(*args)}};
    if (!args->reason.empty()) body["reason"] = args->reason;
    print(send(args->api, "POST", "/targets/" + args->name + "/credentials", body));
  });

  auto* check = target.add_subcommand(
      "check",
      "probe the target now (Kubernetes /version, Portainer /api/status, Jenkins "
      "/api/json); exits 1 when unreachable");
  add_server_options(check, args->api, "any role's");
  check->add_option("name", args->name, "target name")->required();
  check->callback([args] {
    const std::string body =
        send(args->api, "GET", "/targets/" + args->name + "/health?check=true");
    print(body);
    auto v = json::parse(body);
    const auto* now = v.as_object().if_contains("check");
    if (now == nullptr || !now->at("reachable").as_bool()) throw CLI::RuntimeError(1);
  });

  auto* rm =
      target.add_subcommand("rm", "remove a target (admin); refused while an environment uses it");
  add_server_options(rm, args->api, "an admin's");
  rm->add_option("name", args->name, "target name")->required();
  reason(rm);
  rm->callback([args] {
    json::object body;
    if (!args->reason.empty()) body["reason"] = args->reason;
    print(send(args->api, "DELETE", "/targets/" + args->name, body));
  });

  auto& targets = group(app, "targets", "work on all targets at once (docs/targets.md)");
  auto margs = std::make_shared<MigrateArgs>();
  auto* migrate_cmd = targets.add_subcommand(
      "migrate",
      "move credentials that environment definitions hold in settings (before targets) into "
      "targets: reads the log (--data, beside a running server), registers one target per such "
      "environment through the server's API (an admin's token) and re-defines the environment "
      "by reference. Old events stay (masked on every read path, placeholders in exports).");
  add_data_option(*migrate_cmd);
  add_server_options(migrate_cmd, margs->api, "an admin's");
  migrate_cmd->add_flag("--dry-run", margs->dry_run, "only print what would move");
  migrate_cmd->callback([margs] { migrate(*margs); });
}

}  // namespace wharf::cli
