#pragma once
// Support for the end-to-end runtime tests: a hello-service git repository
// made by examples/hello-service/demo-setup, the project definition that
// builds and deploys it with the local runners, and shell helpers.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/commands.h"
#include "tests/runtime/runtime_fixture.h"
#include "tests/test_paths.h"

namespace wharf::runtime::testing {

// Runs a shell command; returns its stdout (trailing newline removed).
inline std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  int status = pclose(pipe);
  if (status != 0)
    throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

inline std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

// A git repository with hello-service at VERSION 1.0.0; returns HEAD.
inline std::string make_hello_repo(const fs::path& repo) {
  shell(std::string(WHARF_SOURCE_DIR) + "/examples/hello-service/demo-setup " + quoted(repo) +
        " >/dev/null");
  return shell("git -C " + quoted(repo) + " rev-parse HEAD");
}

// Commits a new VERSION; returns the new HEAD.
inline std::string commit_version(const fs::path& repo, const std::string& version) {
  std::ofstream(repo / "VERSION") << version << "\n";
  shell("cd " + quoted(repo) +
        " && git add VERSION && git -c user.name=t -c user.email=t@t.invalid commit -q -m 'v" +
        version + "'");
  return shell("git -C " + quoted(repo) + " rev-parse HEAD");
}

// The hello-service project: staging (smoke suite) then prod, both automatic.
// `build_prefix` / `start_prefix` let crash tests slow the steps down.
inline engine::CreateProject hello_project(const std::string& project_id, const fs::path& repo,
                                           const std::string& build_prefix = "",
                                           const std::string& start_prefix = "") {
  engine::CreateProject c;
  c.project_id = project_id;
  c.name = project_id;
  c.repository.mutable_local_git()->set_path(repo.string());
  c.repository.mutable_local_git()->set_branch("main");
  c.pipeline.mutable_build()->set_command(build_prefix + "sh build.sh");
  c.pipeline.mutable_build()->set_artifact_path("dist");
  c.pipeline.mutable_build()->set_timeout_s(120);
  c.pipeline.set_start_command(start_prefix + "exec python3 server.py");
  c.pipeline.set_health_path("/healthz");
  c.pipeline.set_deploy_timeout_s(120);
  (*c.pipeline.mutable_config())["GREETING"] = "hello";
  for (const char* name : {"staging", "prod"}) {
    wharf::v1::EnvironmentSpec env;
    env.set_name(name);
    env.set_target(wharf::v1::TARGET_TYPE_LOCAL);
    env.set_auto_deploy(true);
    if (std::string(name) == "staging") {
      auto* suite = env.add_post_deploy_tests();
      suite->set_name("smoke");
      suite->set_command(
          "curl -fsS \"$WHARF_TARGET_URL/healthz\" && curl -fsS \"$WHARF_TARGET_URL/\" | grep "
          "hello-service");
      suite->set_timeout_s(60);
    }
    c.environments.push_back(env);
  }
  return c;
}

inline std::vector<std::string> read_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace wharf::runtime::testing
