#pragma once
// JSON request bodies of project configuration -> the protobuf messages the
// engine's commands carry. Strict like every body (json_input.h). A webhook
// secret arrives in clear text and leaves here apart from the binding, which
// only says that one is set: the caller seals it (seal_webhook_secret).
#include "api/json_input.h"
#include "engine/commands.h"
#include "wharf/v1/project.pb.h"

namespace wharf::api {

// {"gerrit":{host, project, branches, trigger_words, webhook_secret}} or
// {"local_git":{path, branch}}.
// A webhook secret goes to *webhook_secret (null: refused with 400).
wharf::v1::RepositoryBinding parse_repository(const JsonBody& body, std::string* webhook_secret);
// {name, target, target_ref, settings (no credential-named keys: 400
//  secret_in_settings), auto_deploy, requires_approval, post_deploy_tests, replicas,
//  test_cases:[{name, command, timeout_s}], after_deploy_test_cases:[names]};
// `name` may come from the path instead (then `name_from_path` is set).
wharf::v1::EnvironmentSpec parse_environment(const JsonBody& body,
                                             const std::string& name_from_path = "");
// {build:{command, artifact_path, timeout_s}, start_command, health_path, deploy_timeout_s, config}.
wharf::v1::PipelineTemplate parse_template(const JsonBody& body);

// The body of POST /api/v1/projects, which is also `wharf project create
// --file`: {project_id, name, repository, environments, template}. Without a
// `default_id`, project_id is required. The owner is left to the caller.
engine::CreateProject parse_create_project(const JsonBody& body, const std::string& default_id = "",
                                           std::string* webhook_secret = nullptr);

// Field lists, shared by the parsers and their callers.
#define WHARF_PROJECT_FIELDS "project_id", "name", "repository", "environments", "template"
#define WHARF_ENVIRONMENT_FIELDS                                                  \
  "name", "target", "target_ref", "settings", "auto_deploy", "requires_approval", \
      "post_deploy_tests", "replicas", "test_cases", "after_deploy_test_cases", "canary"
#define WHARF_TEMPLATE_FIELDS "build", "start_command", "health_path", "deploy_timeout_s", "config"

}  // namespace wharf::api
