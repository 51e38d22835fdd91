#pragma once
// A real event store in a temp dir, the runtime's command bus over it, and
// projects bound to Gerrit projects: what the ingestor writes to in
// `wharf serve`, without the process manager.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adapters/gerrit/bindings.h"
#include "adapters/runtime/clock.h"
#include "adapters/runtime/command_bus.h"
#include "events/event_store.h"

namespace wharf::gerrit::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("wharf-gerrit-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

class StoreFixture {
 public:
  explicit StoreFixture(bool sync = false) {
    events::StoreOptions options;
    options.sync = sync;
    auto opened = events::EventStore::open(dir_.path() + "/events", options);
    if (!opened) throw std::runtime_error(opened.error().message);
    store_ = std::move(*opened);
    bus_ = std::make_unique<runtime::CommandBus>(*store_, clock_, 2);
  }
  ~StoreFixture() {
    bus_->stop();
    store_->close();
  }

  // Creates project `project_id` bound to Gerrit `gerrit_project` and folds
  // the log into `bindings` (as the serve process does).
  void create_project(const std::string& project_id, const std::string& gerrit_project,
                      std::vector<std::string> branches = {},
                      std::vector<std::string> trigger_words = {"recheck"},
                      const std::string& host = "") {
    engine::CreateProject c;
    c.project_id = project_id;
    c.name = project_id;
    c.owner = "alice";
    auto* g = c.repository.mutable_gerrit();
    g->set_host(host);
    g->set_project(gerrit_project);
    for (auto& b : branches) g->add_branches(b);
    for (auto& w : trigger_words) g->add_trigger_words(w);
    c.pipeline.mutable_build()->set_command("true");
    auto outcome = bus_->execute(c, bus_->user_context("alice", wharf::v1::CHANNEL_CLI));
    if (!outcome) throw std::runtime_error(outcome.error().message());
    refresh_bindings();
  }

  void refresh_bindings() {
    for (const auto& e : all()) bindings_.apply(e);
  }

  std::vector<events::Envelope> all() const {
    std::vector<events::Envelope> out;
    for (uint64_t from = 1;;) {
      auto batch = store_->read_all(from, 1024);
      if (!batch || batch->empty()) return out;
      from = batch->back().position() + 1;
      for (auto& e : *batch) out.push_back(std::move(e));
    }
  }

  std::vector<wharf::v1::CommitObserved> commits() const {
    std::vector<wharf::v1::CommitObserved> out;
    for (const auto& e : all()) {
      if (e.payload().has_commit_observed()) out.push_back(e.payload().commit_observed());
    }
    return out;
  }

  size_t count(const std::string& type) const {
    size_t n = 0;
    for (const auto& e : all()) n += e.type() == type;
    return n;
  }

  events::EventStore& store() { return *store_; }
  runtime::CommandBus& bus() { return *bus_; }
  BindingSet& bindings() { return bindings_; }
  const std::string& dir() const { return dir_path_ = dir_.path(), dir_path_; }

 private:
  TempDir dir_;
  mutable std::string dir_path_;
  runtime::SystemClock clock_;
  std::unique_ptr<events::EventStore> store_;
  std::unique_ptr<runtime::CommandBus> bus_;
  BindingSet bindings_;
};

}  // namespace wharf::gerrit::testing
