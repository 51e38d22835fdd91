#pragma once
// `wharf worker`: one member of a Kafka consumer group on the task topic. It
// hands each task to the engine's ports (the local runners in `wharf worker`,
// fakes in tests) and publishes their progress and outcome to the result topic.
//
// Delivery: a task's offset is committed only after its outcome is
// acknowledged by the broker, and only as a contiguous prefix per partition,
// so a worker killed mid-task leaves the task uncommitted; after the group's
// session timeout another member is assigned the partition and runs it again.
// "Again" is safe because every port is idempotent by key + attempt: the
// local runners find the marker of the killed worker's build (whose process
// outlives it) and adopt it instead of starting a second one.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "adapters/kafka/kafka_client.h"
#include "adapters/workers/task_topics.h"
#include "engine/ports.h"
#include "events/expected.h"
#include "wharf/v1/tasks.pb.h"

namespace wharf::workers {

struct WorkerPorts {
  engine::BuildRunner* build = nullptr;
  engine::DeployTarget* deploy = nullptr;
  engine::TestRunner* tests = nullptr;
};

struct WorkerOptions {
  TaskTopics topics;
  std::string group = "wharf-workers";
  std::string name;  // in logs and results; default "<hostname>-<pid>"
  // How long the group waits for a silent member before handing its tasks
  // to others (the broker's group.min.session.timeout.ms is 6 s by default).
  std::chrono::milliseconds session_timeout{6000};
  // Told the target a deploy task names (spec + credential version) before
  // the deploy starts, so the worker's target registry knows it.
  std::function<void(const wharf::v1::TargetReference&)> learn_target;
};

class TaskWorker {
 public:
  struct Stats {
    uint64_t started = 0;
    uint64_t finished = 0;
    uint64_t cancels = 0;
    uint64_t skipped = 0;  // unreadable records
    uint64_t in_flight = 0;
  };

  static Expected<std::unique_ptr<TaskWorker>, std::string> create(WorkerOptions options,
                                                                   WorkerPorts ports);
  ~TaskWorker();
  TaskWorker(const TaskWorker&) = delete;
  TaskWorker& operator=(const TaskWorker&) = delete;

  // Consumes and dispatches until stop(); then commits what finished and
  // leaves the group so others take over at once.
  void run();
  void stop() { stopping_.store(true); }  // any thread
  Stats stats() const;
  const std::string& name() const { return options_.name; }

 private:
  struct Partition {
    std::set<int64_t> in_flight;
    int64_t next = -1;       // one past the highest offset consumed
    int64_t committed = -1;  // last offset committed
  };
  struct Completion;  // a finished task's offset, carried through delivery

  TaskWorker(WorkerOptions options, WorkerPorts ports, kafka::KafkaHandle producer);
  void handle(const rd_kafka_message_t& message);
  void start_task(const wharf::v1::Task& task, int32_t partition, int64_t offset);
  void publish(wharf::v1::TaskResult result, std::unique_ptr<Completion> completion);
  void completed(const Completion& completion);
  void commit(bool sync);
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

  static void delivered(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
  static void rebalanced(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t* partitions, void* opaque);

  WorkerOptions options_;
  WorkerPorts ports_;
  kafka::KafkaHandle producer_;
  kafka::KafkaHandle consumer_;
  // Touched only by the thread in run() (rebalance and delivery callbacks
  // run there too, inside the poll calls).
  std::map<int32_t, Partition> partitions_;
  uint64_t generation_ = 0;  // bumped on every rebalance: stale completions are ignored
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> started_{0}, finished_{0}, cancels_{0}, skipped_{0}, in_flight_{0};
};

}  // namespace wharf::workers
