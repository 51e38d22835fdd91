#pragma once
// The Project aggregate (stream "project-<id>"): its repository binding,
// environments in promotion order and pipeline template.
#include <string>
#include <string_view>
#include <vector>

#include "engine/decision.h"

namespace wharf::engine {

struct ProjectState {
  bool exists = false;
  std::string project_id;
  std::string name;
  std::string owner;
  wharf::v1::RepositoryBinding repository;
  std::vector<wharf::v1::EnvironmentSpec> environments;  // promotion order
  wharf::v1::PipelineTemplate pipeline;

  // The environment called `name`, or nullptr.
  const wharf::v1::EnvironmentSpec* find_environment(std::string_view name) const;
};

void apply(ProjectState& state, const wharf::v1::Envelope& event);
inline ProjectState evolve(ProjectState state, const wharf::v1::Envelope& event) {
  apply(state, event);
  return state;
}
// Decides CreateProject, BindRepository, DefineEnvironment, UpdatePipelineTemplate.
Decision decide(const ProjectState& state, const Command& command, const Context& context);

}  // namespace wharf::engine
