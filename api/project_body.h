#pragma once
// JSON request bodies of project configuration -> the protobuf messages the
// engine's commands carry. Strict like every body (json_input.h). Webhook
// secrets arrive in clear text and leave here only as their SHA-256.
#include "api/json_input.h"
#include "engine/commands.h"
#include "wharf/v1/project.pb.h"

namespace wharf::api {

// {"gerrit":{host, project, branches, trigger_words, webhook_secret}} or
// {"local_git":{path, branch}}.
wharf::v1::RepositoryBinding parse_repository(const JsonBody& body);
// {name, target, settings, auto_deploy, requires_approval, post_deploy_tests, replicas,
//  test_cases:[{name, command, timeout_s}], after_deploy_test_cases:[names]};
// `name` may come from the path instead (then `name_from_path` is set).
wharf::v1::EnvironmentSpec parse_environment(const JsonBody& body,
                                             const std::string& name_from_path = "");
// {build:{command, artifact_path, timeout_s}, start_command, health_path, deploy_timeout_s, config}.
wharf::v1::PipelineTemplate parse_template(const JsonBody& body);

// The body of POST /api/v1/projects, which is also `wharf project create
// --file`: {project_id, name, repository, environments, template}. Without a
// `default_id`, project_id is required. The owner is left to the caller.
engine::CreateProject parse_create_project(const JsonBody& body, const std::string& default_id = "");

// Field lists, shared by the parsers and their callers.
#define WHARF_PROJECT_FIELDS "project_id", "name", "repository", "environments", "template"
#define WHARF_ENVIRONMENT_FIELDS                                                          \
  "name", "target", "settings", "auto_deploy", "requires_approval", "post_deploy_tests", \
      "replicas", "test_cases", "after_deploy_test_cases", "canary"
#define WHARF_TEMPLATE_FIELDS "build", "start_command", "health_path", "deploy_timeout_s", "config"

}  // namespace wharf::api
