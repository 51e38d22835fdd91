#pragma once
// Serve's side of remote workers: the engine's ports, implemented by
// publishing each request to the task topic and turning each record on the
// result topic back into the callbacks the process manager gave. From the
// process manager's view nothing changes: the same jobs, the same idempotency
// keys, the same callbacks, so the engine records the same events.
//
// After a restart of serve the process manager asks again for every step it
// has no result for; the repeated task reaches a worker that reports on the
// work already done or running (the local runners' markers), so nothing runs
// twice and nothing is forgotten. A result with no waiting callback (serve
// was down when it arrived) is dropped for that reason.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "adapters/kafka/kafka_client.h"
#include "adapters/workers/task_topics.h"
#include "engine/ports.h"
#include "events/expected.h"
#include "wharf/v1/tasks.pb.h"

namespace wharf::workers {

class TaskDispatcher {
 public:
  struct Stats {
    uint64_t tasks_sent = 0;
    uint64_t results_received = 0;
    uint64_t results_unmatched = 0;
    uint64_t waiting = 0;
  };

  // `group` is serve's consumer group on the result topic.
  static Expected<std::unique_ptr<TaskDispatcher>, std::string> create(
      TaskTopics topics, std::string group = "wharf-serve");
  ~TaskDispatcher();  // stop()
  TaskDispatcher(const TaskDispatcher&) = delete;
  TaskDispatcher& operator=(const TaskDispatcher&) = delete;

  void stop();
  Stats stats() const;

  engine::BuildRunner& build_runner() { return *build_; }
  engine::DeployTarget& deploy_target() { return *deploy_; }
  engine::TestRunner& test_runner() { return *tests_; }

  // What a deploy task carries about the target its spec names: the spec and
  // credential version (never a credential; the worker opens it from its own
  // sealed store, docs/targets.md#workers). Set before the first dispatch.
  using TargetLookup =
      std::function<std::optional<wharf::v1::TargetReference>(const std::string& name)>;
  void set_target_lookup(TargetLookup lookup) { target_lookup_ = std::move(lookup); }
  std::optional<wharf::v1::TargetReference> target_reference(const std::string& name) const {
    return target_lookup_ && !name.empty() ? target_lookup_(name) : std::nullopt;
  }

  // Port plumbing: publish `task`, and route its results to these sinks.
  void dispatch(const wharf::v1::Task& task,
                std::function<void(const engine::StepProgress&)> progress,
                std::function<void(const wharf::v1::TaskResult&)> done);
  void cancel(wharf::v1::TaskKind kind, const std::string& key, uint32_t attempt);

 private:
  struct Waiting {
    std::function<void(const engine::StepProgress&)> progress;
    std::function<void(const wharf::v1::TaskResult&)> done;
  };
  TaskDispatcher(TaskTopics topics, kafka::KafkaHandle producer, kafka::KafkaHandle consumer);
  void publish(const wharf::v1::Task& task);
  void receive_loop();
  void handle(const wharf::v1::TaskResult& result);

  TaskTopics topics_;
  kafka::KafkaHandle producer_;
  kafka::KafkaHandle consumer_;
  std::unique_ptr<engine::BuildRunner> build_;
  std::unique_ptr<engine::DeployTarget> deploy_;
  std::unique_ptr<engine::TestRunner> tests_;
  TargetLookup target_lookup_;

  mutable std::mutex mutex_;
  std::map<std::string, Waiting> waiting_;  // by task_name()
  Stats stats_;
  std::atomic<bool> stopping_{false};
  std::thread receiver_;
};

}  // namespace wharf::workers
