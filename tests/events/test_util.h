#pragma once
// Helpers shared by the event-store tests: temp dirs and small events.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "events/event_store.h"
#include "events/ids.h"

namespace wharf::events::testing {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("wharf-events-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// An event with a ProjectCreated payload; `name` makes content differ.
inline Envelope make_event(const std::string& event_id, const std::string& name = "demo") {
  Envelope e;
  e.set_event_id(event_id);
  e.set_occurred_at_us(1700000000000000);
  e.mutable_actor()->set_id("alice");
  e.mutable_actor()->set_channel(wharf::v1::CHANNEL_CLI);
  e.set_correlation_id("corr-1");
  auto* created = e.mutable_payload()->mutable_project_created();
  created->set_project_id("p-" + name);
  created->set_name(name);
  return e;
}

inline Envelope make_event() { return make_event(new_uuid()); }

// Whole files, for tests that flip bytes in table or export files.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

inline std::unique_ptr<EventStore> open_store(const std::string& dir, StoreOptions options = {}) {
  auto store = EventStore::open(dir, options);
  if (!store) throw std::runtime_error("open failed: " + store.error().message);
  return std::move(store.value());
}

}  // namespace wharf::events::testing
