#include "adapters/workers/task_dispatcher.h"

#include <spdlog/spdlog.h>

#include "adapters/workers/task_codec.h"

namespace wharf::workers {

namespace v1 = wharf::v1;

namespace {

class RemoteBuildRunner final : public engine::BuildRunner {
 public:
  explicit RemoteBuildRunner(TaskDispatcher& d) : d_(d) {}
  void start(const engine::BuildJob& job, engine::Callbacks<engine::BuildOutcome> cb) override {
    d_.dispatch(to_task(job), cb.progress, [done = cb.done](const v1::TaskResult& r) {
      if (done) done(from_proto(r.build()));
    });
  }
  void cancel(const std::string& run_id, uint32_t attempt) override {
    d_.cancel(v1::TASK_KIND_BUILD, run_id, attempt);
  }

 private:
  TaskDispatcher& d_;
};

class RemoteDeployTarget final : public engine::DeployTarget {
 public:
  explicit RemoteDeployTarget(TaskDispatcher& d) : d_(d) {}
  void start(const engine::DeployJob& job, engine::Callbacks<engine::DeployOutcome> cb) override {
    v1::Task task = to_task(job);
    if (auto target = d_.target_reference(job.spec.target_ref())) {
      *task.mutable_deploy()->mutable_target() = std::move(*target);
    }
    d_.dispatch(task, cb.progress, [done = cb.done](const v1::TaskResult& r) {
      if (done) done(from_proto(r.deploy()));
    });
  }
  void cancel(const std::string& deploy_id, uint32_t attempt) override {
    d_.cancel(v1::TASK_KIND_DEPLOY, deploy_id, attempt);
  }

 private:
  TaskDispatcher& d_;
};

class RemoteTestRunner final : public engine::TestRunner {
 public:
  explicit RemoteTestRunner(TaskDispatcher& d) : d_(d) {}
  void start(const engine::TestJob& job, engine::Callbacks<engine::TestOutcome> cb) override {
    d_.dispatch(to_task(job), cb.progress, [done = cb.done](const v1::TaskResult& r) {
      if (done) done(from_proto(r.test()));
    });
  }
  void cancel(const std::string& run_id, uint32_t attempt) override {
    d_.cancel(v1::TASK_KIND_TEST, run_id, attempt);
  }

 private:
  TaskDispatcher& d_;
};

bool is_outcome(const v1::TaskResult& r) {
  return r.has_build() || r.has_deploy() || r.has_test();
}

void log_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::error("workers: a task record was not delivered: {}", rd_kafka_err2str(message->err));
  }
}

}  // namespace

Expected<std::unique_ptr<TaskDispatcher>, std::string> TaskDispatcher::create(TaskTopics topics,
                                                                              std::string group) {
  auto producer_conf = kafka::make_conf(producer_properties(topics), "wharf-serve-tasks");
  if (!producer_conf) return unexpected(producer_conf.error());
  rd_kafka_conf_set_dr_msg_cb(producer_conf->get(), log_delivery);
  auto producer = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*producer_conf));
  if (!producer) return unexpected(producer.error());

  auto consumer_conf = kafka::make_conf({{"bootstrap.servers", topics.bootstrap},
                                         {"group.id", group},
                                         {"auto.offset.reset", "earliest"},
                                         {"enable.auto.commit", "true"},
                                         {"enable.partition.eof", "false"},
                                         {"fetch.wait.max.ms", "100"},
                                         // A crashed serve's member blocks the results
                                         // partitions until it times out; keep that short.
                                         {"session.timeout.ms", "6000"},
                                         {"heartbeat.interval.ms", "2000"},
                                         {"allow.auto.create.topics", "true"}},
                                        "wharf-serve-results");
  if (!consumer_conf) return unexpected(consumer_conf.error());
  auto consumer = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*consumer_conf));
  if (!consumer) return unexpected(consumer.error());
  rd_kafka_poll_set_consumer(consumer->get());
  rd_kafka_topic_partition_list_t* subscription = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subscription, topics.results.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer->get(), subscription);
  rd_kafka_topic_partition_list_destroy(subscription);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unexpected("subscribe to " + topics.results + ": " + rd_kafka_err2str(err));
  }
  return std::unique_ptr<TaskDispatcher>(
      new TaskDispatcher(std::move(topics), std::move(*producer), std::move(*consumer)));
}

TaskDispatcher::TaskDispatcher(TaskTopics topics, kafka::KafkaHandle producer,
                               kafka::KafkaHandle consumer)
    : topics_(std::move(topics)),
      producer_(std::move(producer)),
      consumer_(std::move(consumer)),
      build_(std::make_unique<RemoteBuildRunner>(*this)),
      deploy_(std::make_unique<RemoteDeployTarget>(*this)),
      tests_(std::make_unique<RemoteTestRunner>(*this)) {
  spdlog::info("workers: tasks go to {} on {}, results come from {}", topics_.tasks,
               topics_.bootstrap, topics_.results);
  receiver_ = std::thread([this] { receive_loop(); });
}

TaskDispatcher::~TaskDispatcher() {
  stop();
}

void TaskDispatcher::stop() {
  if (stopping_.exchange(true)) return;
  if (receiver_.joinable()) receiver_.join();
  rd_kafka_consumer_close(consumer_.get());
  // Tasks still queued in the producer get a few seconds to reach the broker;
  // any that do not are asked for again by the process manager on restart.
  rd_kafka_flush(producer_.get(), 5000);
}

TaskDispatcher::Stats TaskDispatcher::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.waiting = waiting_.size();
  return s;
}

void TaskDispatcher::dispatch(const v1::Task& task,
                              std::function<void(const engine::StepProgress&)> progress,
                              std::function<void(const v1::TaskResult&)> done) {
  {
    std::lock_guard lock(mutex_);
    // A repeated request for the same key replaces the old sinks: the process
    // manager asks again only when it no longer waits on the first.
    waiting_[task_name(task)] = Waiting{std::move(progress), std::move(done)};
  }
  publish(task);
}

void TaskDispatcher::cancel(v1::TaskKind kind, const std::string& key, uint32_t attempt) {
  publish(cancel_task(kind, key, attempt));
}

void TaskDispatcher::publish(const v1::Task& task) {
  const std::string bytes = task.SerializeAsString();
  const std::string key = partition_key(task);
  rd_kafka_resp_err_t err =
      rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topics_.tasks.c_str()),
                        RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Only a full local queue or a fatal producer error gets here; the step's
    // timeout in the engine then fails it visibly rather than hanging.
    spdlog::error("workers: cannot queue task {}: {}", task_name(task), rd_kafka_err2str(err));
    return;
  }
  std::lock_guard lock(mutex_);
  ++stats_.tasks_sent;
  spdlog::debug("workers: {} {}", task.cancel() ? "cancel" : "task", task_name(task));
}

void TaskDispatcher::receive_loop() {
  while (!stopping_.load()) {
    rd_kafka_poll(producer_.get(), 0);
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), 100);
    if (message == nullptr) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(
        message, rd_kafka_message_destroy);
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("workers: result topic: {}", rd_kafka_message_errstr(message));
      }
      continue;
    }
    v1::TaskResult result;
    if (!result.ParseFromArray(message->payload, static_cast<int>(message->len))) {
      spdlog::warn("workers: unreadable record at {}[{}]@{}, skipped", topics_.results,
                   message->partition, message->offset);
      continue;
    }
    handle(result);
  }
}

void TaskDispatcher::handle(const v1::TaskResult& result) {
  const std::string name = task_name(result);
  Waiting sinks;
  {
    std::lock_guard lock(mutex_);
    ++stats_.results_received;
    auto it = waiting_.find(name);
    if (it == waiting_.end()) {
      ++stats_.results_unmatched;
      spdlog::debug("workers: result for {} from {} has no waiting step (already recorded)", name,
                    result.worker());
      return;
    }
    if (!is_outcome(result)) {
      sinks.progress = it->second.progress;
    } else {
      sinks = std::move(it->second);
      waiting_.erase(it);
    }
  }
  if (result.has_progress()) {
    if (sinks.progress) sinks.progress(from_proto(result.progress()));
    return;
  }
  spdlog::info("workers: {} finished on {}", name, result.worker());
  if (sinks.done) sinks.done(result);
}

}  // namespace wharf::workers
