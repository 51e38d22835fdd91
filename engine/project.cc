#include "engine/project.h"

#include <algorithm>
#include <set>

#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;

void place_environment(std::vector<wharf::v1::EnvironmentSpec>& envs,
                       const wharf::v1::EnvironmentSpec& spec, uint32_t order) {
  auto it = std::find_if(envs.begin(), envs.end(),
                         [&](const auto& e) { return e.name() == spec.name(); });
  if (it != envs.end()) envs.erase(it);
  size_t at = std::min<size_t>(order, envs.size());
  envs.insert(envs.begin() + static_cast<std::ptrdiff_t>(at), spec);
}

// "" when the binding is usable, else why not.
std::string check_binding(const wharf::v1::RepositoryBinding& binding) {
  switch (binding.source_case()) {
    case wharf::v1::RepositoryBinding::kGerrit:
      return binding.gerrit().project().empty() ? "a Gerrit binding needs a Gerrit project name"
                                                : "";
    case wharf::v1::RepositoryBinding::kLocalGit:
      return binding.local_git().path().empty() ? "a local git binding needs a repository path"
                                                : "";
    case wharf::v1::RepositoryBinding::SOURCE_NOT_SET:
      break;
  }
  return "the repository binding names no source (Gerrit or local git)";
}

std::string check_environment(const wharf::v1::EnvironmentSpec& env) {
  if (!valid_environment_name(env.name())) {
    return "environment name \"" + env.name() +
           "\" is invalid: use 1-64 of A-Z a-z 0-9 . _ (no '-')";
  }
  return "";
}

Decision decide_create(const ProjectState& state, const CreateProject& c, const Context& ctx) {
  if (!valid_project_id(c.project_id)) {
    return reject(Code::kInvalidArgument,
                  "project id \"" + c.project_id + "\" is invalid: use 1-64 of A-Z a-z 0-9 . _ -");
  }
  if (state.exists) {
    return reject(Code::kAlreadyExists, "project " + c.project_id + " already exists");
  }
  if (c.name.empty()) return reject(Code::kInvalidArgument, "a project needs a name");
  std::string owner = c.owner.empty() ? ctx.actor.id() : c.owner;
  if (owner.empty()) return reject(Code::kInvalidArgument, "a project needs an owner");
  if (c.repository.source_case() != wharf::v1::RepositoryBinding::SOURCE_NOT_SET) {
    if (auto why = check_binding(c.repository); !why.empty()) {
      return reject(Code::kInvalidArgument, why);
    }
  }
  std::set<std::string> seen;
  for (const auto& env : c.environments) {
    if (auto why = check_environment(env); !why.empty()) {
      return reject(Code::kInvalidArgument, why);
    }
    if (!seen.insert(env.name()).second) {
      return reject(Code::kInvalidArgument, "environment " + env.name() + " is listed twice");
    }
  }
  NewEvent event;
  auto* created = event.payload.mutable_project_created();
  created->set_project_id(c.project_id);
  created->set_name(c.name);
  *created->mutable_repository() = c.repository;
  for (const auto& env : c.environments) *created->add_environments() = env;
  *created->mutable_template_() = c.pipeline;
  created->set_owner(owner);
  if (c.gerrit_setup) *created->mutable_gerrit_setup() = *c.gerrit_setup;
  event.correlation_id = c.project_id;
  std::vector<NewEvent> events;
  events.push_back(std::move(event));
  return events;
}

Decision decide_bind(const ProjectState& state, const BindRepository& c) {
  if (!state.exists) return reject(Code::kNotFound, "project " + c.project_id + " does not exist");
  if (auto why = check_binding(c.repository); !why.empty()) {
    return reject(Code::kInvalidArgument, why);
  }
  NewEvent event;
  auto* bound = event.payload.mutable_repository_bound();
  bound->set_project_id(c.project_id);
  *bound->mutable_repository() = c.repository;
  event.correlation_id = c.project_id;
  std::vector<NewEvent> events;
  events.push_back(std::move(event));
  return events;
}

Decision decide_update_template(const ProjectState& state, const UpdatePipelineTemplate& c) {
  if (!state.exists) return reject(Code::kNotFound, "project " + c.project_id + " does not exist");
  if (c.pipeline.build().command().empty()) {
    return reject(Code::kInvalidArgument, "a pipeline template needs a build command");
  }
  NewEvent event;
  auto* updated = event.payload.mutable_pipeline_template_updated();
  updated->set_project_id(c.project_id);
  *updated->mutable_template_() = c.pipeline;
  event.correlation_id = c.project_id;
  std::vector<NewEvent> events;
  events.push_back(std::move(event));
  return events;
}

Decision decide_define(const ProjectState& state, const DefineEnvironment& c) {
  if (!state.exists) return reject(Code::kNotFound, "project " + c.project_id + " does not exist");
  if (auto why = check_environment(c.environment); !why.empty()) {
    return reject(Code::kInvalidArgument, why);
  }
  const auto& envs = state.environments;
  auto it = std::find_if(envs.begin(), envs.end(),
                         [&](const auto& e) { return e.name() == c.environment.name(); });
  bool replacing = it != envs.end();
  size_t limit = replacing ? envs.size() - 1 : envs.size();
  uint32_t order;
  if (c.order < 0) {
    order = static_cast<uint32_t>(replacing ? it - envs.begin() : envs.size());
  } else if (static_cast<size_t>(c.order) > limit) {
    return reject(Code::kInvalidArgument, "order " + std::to_string(c.order) +
                                              " is past the end of project " + c.project_id +
                                              "'s " + std::to_string(envs.size()) +
                                              " environments");
  } else {
    order = static_cast<uint32_t>(c.order);
  }
  NewEvent event;
  auto* defined = event.payload.mutable_environment_defined();
  defined->set_project_id(c.project_id);
  *defined->mutable_environment() = c.environment;
  defined->set_order(order);
  event.correlation_id = c.project_id;
  std::vector<NewEvent> events;
  events.push_back(std::move(event));
  return events;
}

}  // namespace

const wharf::v1::EnvironmentSpec* ProjectState::find_environment(std::string_view name) const {
  for (const auto& env : environments) {
    if (env.name() == name) return &env;
  }
  return nullptr;
}

void apply(ProjectState& state, const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kProjectCreated: {
      const auto& c = p.project_created();
      state.exists = true;
      state.project_id = c.project_id();
      state.name = c.name();
      state.owner = c.owner();
      state.repository = c.repository();
      state.environments.assign(c.environments().begin(), c.environments().end());
      state.pipeline = c.template_();
      break;
    }
    case wharf::v1::Payload::kRepositoryBound:
      state.repository = p.repository_bound().repository();
      break;
    case wharf::v1::Payload::kEnvironmentDefined:
      place_environment(state.environments, p.environment_defined().environment(),
                        p.environment_defined().order());
      break;
    case wharf::v1::Payload::kPipelineTemplateUpdated:
      state.pipeline = p.pipeline_template_updated().template_();
      break;
    default:
      break;
  }
}

Decision decide(const ProjectState& state, const Command& command, const Context& context) {
  if (const auto* c = std::get_if<CreateProject>(&command)) return decide_create(state, *c, context);
  if (const auto* c = std::get_if<BindRepository>(&command)) return decide_bind(state, *c);
  if (const auto* c = std::get_if<DefineEnvironment>(&command)) return decide_define(state, *c);
  if (const auto* c = std::get_if<UpdatePipelineTemplate>(&command)) {
    return decide_update_template(state, *c);
  }
  return reject(Code::kWrongStream,
                std::string(command_name(command)) + " is not decided on a project stream");
}

}  // namespace wharf::engine
