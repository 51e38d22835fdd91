#include "api/project_body.h"

#include "adapters/dubbo/settings.h"
#include "api/api_error.h"
#include "api/canary_body.h"
#include "api/tokens.h"
#include "engine/target.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

uint32_t small_uint(const JsonBody& body, std::string_view name) {
  auto v = body.optional_uint(name).value_or(0);
  if (v > UINT32_MAX) {
    throw bad_request("invalid_value", "field \"" + std::string(name) + "\" is too large",
                      json::object{{"field", std::string(name)}});
  }
  return static_cast<uint32_t>(v);
}

// [{name, command, timeout_s}]: post-deploy suites and named test cases.
void parse_suites(const JsonBody& body, std::string_view field,
                  google::protobuf::RepeatedPtrField<wharf::v1::TestSuite>& out) {
  for (auto& t : body.object_list(field, {"name", "command", "timeout_s"})) {
    auto* suite = out.Add();
    suite->set_name(t.required_string("name"));
    suite->set_command(t.required_string("command"));
    suite->set_timeout_s(small_uint(t, "timeout_s"));
  }
}

}  // namespace

wharf::v1::RepositoryBinding parse_repository(const JsonBody& body, std::string* webhook_secret) {
  wharf::v1::RepositoryBinding binding;
  if (body.has("gerrit") == body.has("local_git")) {
    throw bad_request("invalid_value",
                      "repository needs exactly one of \"gerrit\" or \"local_git\"",
                      json::object{{"field", "repository"}});
  }
  if (body.has("gerrit")) {
    auto g =
        body.object("gerrit", {"host", "project", "branches", "trigger_words", "webhook_secret"});
    auto* out = binding.mutable_gerrit();
    out->set_host(g.required_string("host"));
    out->set_project(g.required_string("project"));
    for (auto& b : g.string_list("branches")) out->add_branches(b);
    for (auto& w : g.string_list("trigger_words")) out->add_trigger_words(w);
    if (auto secret = g.optional_string("webhook_secret"); secret && !secret->empty()) {
      if (*secret == engine::kMasked) {
        // What reads show in place of a secret, sent back by a round-trip
        // edit: sealing it would replace the real secret with the mask.
        throw bad_request("masked_value",
                          std::string("gerrit.webhook_secret is \"") + engine::kMasked +
                              "\", the mask reads show in place of a secret: send the secret "
                              "itself",
                          json::object{{"field", "gerrit.webhook_secret"}});
      }
      if (webhook_secret == nullptr) {
        throw bad_request("invalid_value", "a webhook secret cannot be set here",
                          json::object{{"field", "gerrit.webhook_secret"}});
      }
      // Sealed by the caller (seal_webhook_secret); the log records only that
      // one is set and its version.
      out->set_webhook_secret_set(true);
      *webhook_secret = std::move(*secret);
    }
  } else {
    auto l = body.object("local_git", {"path", "branch"});
    binding.mutable_local_git()->set_path(l.required_string("path"));
    binding.mutable_local_git()->set_branch(l.optional_string("branch").value_or("main"));
  }
  return binding;
}

// What a Kubernetes or Swarm canary cannot do is refused here, not left to
// go out differently (docs/canary.md#kubernetes-and-swarm).
static void check_canary_target(const wharf::v1::EnvironmentSpec& env) {
  const auto& c = env.canary();
  auto refuse = [](const std::string& field, const std::string& message) {
    throw bad_request("invalid_value", message, json::object{{"field", field}});
  };
  if (c.mode() == "dubbo") {
    // Rules in the Dubbo config center steer the calls (docs/canary.md#dubbo);
    // the canary instance runs on the environment's target (local process,
    // Kubernetes canary Deployment, Swarm canary service).
    if (!c.match().header().empty() || !c.match().cookie().empty()) {
      refuse("canary.match",
             "Dubbo calls carry no HTTP header or cookie wharf sees: flagged calls use "
             "settings.dubbo_route \"tag\" and dubbo.tag (docs/canary.md#dubbo)");
    }
    if (c.analysis().max_error_rate() > 0 && c.analysis().prometheus_query_url().empty()) {
      refuse("canary.analysis.prometheus_query_url",
             "no wharf router sees Dubbo calls: the error rate of a Dubbo canary comes from "
             "canary.analysis.prometheus_query_url (Dubbo's metrics)");
    }
    // The dubbo_* settings, settings.dubbo_config_center (the ZooKeeper target) among them.
    auto settings = dubbo::parse_settings(env.settings());
    if (!settings) refuse(settings.error().field, settings.error().message);
    return;
  }
  if (env.target() == wharf::v1::TARGET_TYPE_LOCAL) return;
  const bool kubernetes = env.target() == wharf::v1::TARGET_TYPE_KUBERNETES;
  const char* kind = kubernetes ? "Kubernetes" : "Swarm";
  if (c.has_analysis() && c.analysis().prometheus_query_url().empty()) {
    refuse("canary.analysis.prometheus_query_url",
           std::string("automatic canary analysis on ") + kind +
               " needs canary.analysis.prometheus_query_url (an instant query returning the "
               "canary's error rate): there are no router counts (docs/canary.md#analysis)");
  }
  const bool routed = !c.match().header().empty() || !c.match().cookie().empty();
  if (!kubernetes) {
    if (c.mode() == "ingress-nginx") {
      refuse("canary.mode",
             "canary mode \"ingress-nginx\" is for Kubernetes; a Swarm canary "
             "splits by replica count (mode \"replicas\")");
    }
    if (routed) {
      refuse("canary.match",
             "Swarm has no header or cookie routing: a Swarm canary splits by replica count "
             "only (docs/canary.md#swarm)");
    }
    return;
  }
  if (c.mode() != "ingress-nginx") {
    if (routed) {
      refuse("canary.match",
             "header or cookie routing on Kubernetes needs canary.mode \"ingress-nginx\" (mode "
             "\"replicas\" splits by replica count only; docs/canary.md#kubernetes)");
    }
    return;
  }
  if (env.settings().find("ingress") == env.settings().end() ||
      env.settings().at("ingress").empty()) {
    refuse("settings.ingress",
           "canary mode \"ingress-nginx\" needs settings.ingress (the stable Ingress)");
  }
  if (!c.match().cookie_value().empty() && c.match().cookie_value() != "always") {
    refuse("canary.match.cookie_value",
           "Ingress-NGINX sends a cookie to the canary only when its value is \"always\"; leave "
           "cookie_value empty");
  }
}

wharf::v1::EnvironmentSpec parse_environment(const JsonBody& body,
                                             const std::string& name_from_path) {
  wharf::v1::EnvironmentSpec env;
  if (!name_from_path.empty()) {
    if (auto name = body.optional_string("name"); name && *name != name_from_path) {
      throw bad_request("invalid_value", "body name \"" + *name + "\" differs from the path",
                        json::object{{"field", "name"}});
    }
    env.set_name(name_from_path);
  } else {
    env.set_name(body.required_string("name"));
  }
  const auto target = body.enum_value("target", {"local", "kubernetes", "swarm"}, false);
  if (!target || *target == "local")
    env.set_target(wharf::v1::TARGET_TYPE_LOCAL);
  else if (*target == "kubernetes")
    env.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  else
    env.set_target(wharf::v1::TARGET_TYPE_SWARM);
  for (auto& [k, v] : body.string_map("settings")) {
    if (engine::credential_named(k)) {
      throw bad_request(
          "secret_in_settings",
          "settings." + k +
              " names a credential; settings are recorded in the log for good, so "
              "credentials never go there: register the cluster or server as a target (POST "
              "/api/v1/targets, `wharf target add`) and name it with \"target_ref\"",
          json::object{{"field", "settings." + k}, {"targets_route", "/api/v1/targets"}});
    }
    (*env.mutable_settings())[k] = v;
  }
  env.set_target_ref(body.optional_string("target_ref").value_or(""));
  env.set_auto_deploy(body.optional_bool("auto_deploy").value_or(false));
  env.set_requires_approval(body.optional_bool("requires_approval").value_or(false));
  parse_suites(body, "post_deploy_tests", *env.mutable_post_deploy_tests());
  parse_suites(body, "test_cases", *env.mutable_test_cases());
  for (auto& name : body.string_list("after_deploy_test_cases")) {
    bool declared = false;
    for (const auto& t : env.test_cases()) declared = declared || t.name() == name;
    if (!declared) {
      throw bad_request(
          "invalid_value",
          "after_deploy_test_cases names \"" + name + "\", which test_cases does not declare",
          json::object{{"field", "after_deploy_test_cases"}});
    }
    env.add_after_deploy_test_cases(name);
  }
  env.set_replicas(body.has("replicas") ? small_uint(body, "replicas") : 1);
  if (body.has("canary")) {
    *env.mutable_canary() = parse_canary_strategy(body, "canary");
    check_canary_target(env);
  }
  return env;
}

// build.runner ("local" | "jenkins"; default: jenkins when build.jenkins is
// given) and build.jenkins {url, job, parameters, config_xml, artifact_file,
// poll_interval_ms} (docs/jenkins.md).
void parse_build_runner(const JsonBody& build, wharf::v1::BuildStep& step) {
  const std::string runner =
      build.optional_string("runner").value_or(build.has("jenkins") ? "jenkins" : "local");
  if (runner == "local") {
    step.set_runner(wharf::v1::BUILD_RUNNER_TYPE_LOCAL);
    return;
  }
  if (runner != "jenkins") {
    throw bad_request("invalid_value", "build.runner must be \"local\" or \"jenkins\"",
                      json::object{{"field", "build.runner"}});
  }
  step.set_runner(wharf::v1::BUILD_RUNNER_TYPE_JENKINS);
  auto j = build.object(
      "jenkins",
      {"url", "server", "job", "parameters", "config_xml", "artifact_file", "poll_interval_ms"},
      true);
  auto* out = step.mutable_jenkins();
  out->set_url(j.optional_string("url").value_or(""));
  out->set_server(j.optional_string("server").value_or(""));
  out->set_job(j.required_string("job"));
  for (auto& [k, v] : j.string_map("parameters")) (*out->mutable_parameters())[k] = v;
  out->set_config_xml(j.optional_string("config_xml").value_or(""));
  out->set_artifact_file(j.optional_string("artifact_file").value_or(""));
  out->set_poll_interval_ms(small_uint(j, "poll_interval_ms"));
}

wharf::v1::PipelineTemplate parse_template(const JsonBody& body) {
  wharf::v1::PipelineTemplate t;
  auto build = body.object("build", {"command", "artifact_path", "timeout_s", "runner", "jenkins"});
  t.mutable_build()->set_command(build.optional_string("command").value_or(""));
  t.mutable_build()->set_artifact_path(build.optional_string("artifact_path").value_or(""));
  t.mutable_build()->set_timeout_s(small_uint(build, "timeout_s"));
  parse_build_runner(build, *t.mutable_build());
  t.set_start_command(body.optional_string("start_command").value_or(""));
  t.set_health_path(body.optional_string("health_path").value_or(""));
  t.set_deploy_timeout_s(small_uint(body, "deploy_timeout_s"));
  for (auto& [k, v] : body.string_map("config")) (*t.mutable_config())[k] = v;
  return t;
}

engine::CreateProject parse_create_project(const JsonBody& body, const std::string& default_id,
                                           std::string* webhook_secret) {
  engine::CreateProject command;
  command.project_id = default_id.empty() ? body.required_string("project_id")
                                          : body.optional_string("project_id").value_or(default_id);
  command.name = body.optional_string("name").value_or(command.project_id);
  if (body.has("repository")) {
    command.repository =
        parse_repository(body.object("repository", {"gerrit", "local_git"}), webhook_secret);
  }
  for (auto& env : body.object_list("environments", {WHARF_ENVIRONMENT_FIELDS})) {
    command.environments.push_back(parse_environment(env));
  }
  command.pipeline = parse_template(body.object("template", {WHARF_TEMPLATE_FIELDS}));
  return command;
}

}  // namespace wharf::api
