#pragma once
// bench_scale's history: N events of an organisation's releases over years,
// written through EventStore::append (the real append path). Deterministic
// for a seed: names are "svc-<i>" projects, "svc-<i>-r<n>" runs, "<run>-v"
// versions; events' occurred_at spreads evenly over `years` ending at `end_us`.
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/event_store.h"

namespace wharf::bench {

struct HistoryOptions {
  uint64_t events = 10'000'000;
  uint32_t projects = 0;  // 0: one per 5,000 events (2,000 at 10M), at least 10
  int64_t end_us = 0;     // occurred_at of the last event
  double years = 3;
  uint32_t seed = 1;
};

// What the queries of the benchmark ask about: a sample of the runs made.
struct RunSample {
  std::string project;
  std::string run;
  std::string version;
};

class History {
 public:
  History(events::EventStore& store, HistoryOptions options);
  // Appends until `options.events` are written; `progress` every ~1M events.
  void generate();
  uint64_t appended() const { return appended_; }
  uint32_t projects() const { return projects_; }
  static std::string project_name(uint32_t i) { return "svc-" + std::to_string(i); }
  const std::vector<RunSample>& samples() const { return samples_; }

 private:
  using Payloads = std::vector<wharf::v1::Payload>;
  void create_project(uint32_t i);
  void run(uint32_t project);
  void deploy(const std::string& p, const std::string& env, const std::string& run,
              const std::string& version, uint64_t n, Payloads& run_events, bool canary);
  void rollback(const std::string& p, uint64_t n);
  void flap(const std::string& p, const std::string& env);
  void access(uint32_t project);
  void token();
  void append(const std::string& stream, const Payloads& payloads, const std::string& actor,
              wharf::v1::Channel channel, const std::string& correlation = {});
  std::string text(size_t min, size_t max);

  events::EventStore& store_;
  HistoryOptions options_;
  uint32_t projects_;
  std::mt19937_64 rng_;
  uint64_t appended_ = 0;
  uint64_t runs_ = 0;
  int64_t clock_;
  int64_t step_;
  std::string last_event_id_;
  struct Serving {
    std::string version, deploy_id, event_id;
  };
  std::unordered_map<std::string, Serving> prod_, previous_prod_;
  std::vector<RunSample> samples_;
};

}  // namespace wharf::bench
