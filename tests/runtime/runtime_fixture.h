#pragma once
// Shared helpers of the runtime tests: a store in a temp dir, waiting for
// events, building commands.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/commands.h"
#include "events/event_store.h"

namespace wharf::runtime::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("wharf-runtime-" + std::to_string(rd()) + "-" +
                                         std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    if (std::getenv("WHARF_TEST_KEEP") != nullptr) return;  // keep for a post-mortem
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::unique_ptr<events::EventStore> open_store(const fs::path& dir, bool sync = false) {
  events::StoreOptions options;
  options.sync = sync;
  auto store = events::EventStore::open(dir.string(), options);
  if (!store) throw std::runtime_error("cannot open store: " + store.error().message);
  return std::move(*store);
}

inline std::vector<events::Envelope> all_events(const events::EventStore& store) {
  std::vector<events::Envelope> out;
  uint64_t from = 1;
  for (;;) {
    auto batch = store.read_all(from, 1024);
    if (!batch || batch->empty()) return out;
    from = batch->back().position() + 1;
    for (auto& e : *batch) out.push_back(std::move(e));
  }
}

inline std::vector<events::Envelope> events_of_type(const events::EventStore& store,
                                                    const std::string& type) {
  std::vector<events::Envelope> out;
  for (auto& e : all_events(store)) {
    if (e.type() == type) out.push_back(std::move(e));
  }
  return out;
}

// Polls `condition` until true or `timeout`; returns its last value.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

inline bool run_completed(const events::EventStore& store, const std::string& run_id,
                          wharf::v1::RunOutcome outcome = wharf::v1::RUN_OUTCOME_SUCCEEDED) {
  for (const auto& e : events_of_type(store, "PipelineRunCompleted")) {
    const auto& c = e.payload().pipeline_run_completed();
    if (c.run_id() == run_id && c.outcome() == outcome) return true;
  }
  return false;
}

// A project with a local git repository and the given environments; each
// environment may get a post-deploy suite.
inline engine::CreateProject make_project(const std::string& project_id,
                                          const std::string& repository,
                                          const std::vector<std::string>& environments,
                                          const std::string& suite_env = {}) {
  engine::CreateProject c;
  c.project_id = project_id;
  c.name = project_id;
  c.repository.mutable_local_git()->set_path(repository);
  c.repository.mutable_local_git()->set_branch("main");
  c.pipeline.mutable_build()->set_command("true");
  c.pipeline.mutable_build()->set_artifact_path("dist");
  c.pipeline.mutable_build()->set_timeout_s(60);
  c.pipeline.set_start_command("exec python3 server.py");
  c.pipeline.set_health_path("/healthz");
  c.pipeline.set_deploy_timeout_s(60);
  for (const auto& name : environments) {
    wharf::v1::EnvironmentSpec env;
    env.set_name(name);
    env.set_target(wharf::v1::TARGET_TYPE_LOCAL);
    env.set_auto_deploy(true);
    if (name == suite_env) {
      auto* suite = env.add_post_deploy_tests();
      suite->set_name("smoke");
      suite->set_command("true");
      suite->set_timeout_s(60);
    }
    c.environments.push_back(env);
  }
  return c;
}

inline engine::ObserveCommit make_commit(const std::string& project_id, const std::string& sha) {
  engine::ObserveCommit c;
  c.project_id = project_id;
  c.commit_sha = sha;
  c.branch = "main";
  c.source = "local";
  c.subject = "commit " + sha;
  return c;
}

}  // namespace wharf::runtime::testing
