#include "adapters/workers/task_worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "adapters/workers/task_codec.h"

namespace wharf::workers {

namespace v1 = wharf::v1;

struct TaskWorker::Completion {
  TaskWorker* worker = nullptr;
  uint64_t generation = 0;
  int32_t partition = 0;
  int64_t offset = 0;
};

namespace {

std::string default_name() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

}  // namespace

Expected<std::unique_ptr<TaskWorker>, std::string> TaskWorker::create(WorkerOptions options,
                                                                      WorkerPorts ports) {
  if (!ports.build || !ports.deploy || !ports.tests) {
    return unexpected(
        std::string("a worker needs a build runner, a deploy target and a test runner"));
  }
  if (options.name.empty()) options.name = default_name();
  auto producer_conf =
      kafka::make_conf(producer_properties(options.topics), "wharf-worker-" + options.name);
  if (!producer_conf) return unexpected(producer_conf.error());
  rd_kafka_conf_set_dr_msg_cb(producer_conf->get(), &TaskWorker::delivered);
  auto producer = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*producer_conf));
  if (!producer) return unexpected(producer.error());

  std::unique_ptr<TaskWorker> worker(
      new TaskWorker(std::move(options), ports, std::move(*producer)));
  const auto& o = worker->options_;
  auto consumer_conf =
      kafka::make_conf({{"bootstrap.servers", o.topics.bootstrap},
                        {"group.id", o.group},
                        {"client.id", "wharf-worker-" + o.name},
                        {"auto.offset.reset", "earliest"},
                        {"enable.auto.commit", "false"},
                        {"enable.partition.eof", "false"},
                        {"fetch.wait.max.ms", "100"},
                        {"allow.auto.create.topics", "true"},
                        {"session.timeout.ms", std::to_string(o.session_timeout.count())},
                        {"heartbeat.interval.ms",
                         std::to_string(std::max<int64_t>(500, o.session_timeout.count() / 3))}},
                       "wharf-worker-" + o.name);
  if (!consumer_conf) return unexpected(consumer_conf.error());
  rd_kafka_conf_set_rebalance_cb(consumer_conf->get(), &TaskWorker::rebalanced);
  rd_kafka_conf_set_opaque(consumer_conf->get(), worker.get());
  auto consumer = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*consumer_conf));
  if (!consumer) return unexpected(consumer.error());
  rd_kafka_poll_set_consumer(consumer->get());
  PartitionList subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.get(), o.topics.tasks.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(consumer->get(), subscription.get()); err) {
    return unexpected("subscribe to " + o.topics.tasks + ": " + rd_kafka_err2str(err));
  }
  worker->consumer_ = std::move(*consumer);
  return worker;
}

TaskWorker::TaskWorker(WorkerOptions options, WorkerPorts ports, kafka::KafkaHandle producer)
    : options_(std::move(options)), ports_(ports), producer_(std::move(producer)) {}

TaskWorker::~TaskWorker() = default;

TaskWorker::Stats TaskWorker::stats() const {
  return {started_.load(), finished_.load(), cancels_.load(), skipped_.load(), in_flight_.load()};
}

void TaskWorker::run() {
  spdlog::info("worker {}: joining group {} on {} at {}", options_.name, options_.group,
               options_.topics.tasks, options_.topics.bootstrap);
  auto last_commit = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    rd_kafka_poll(producer_.get(), 0);  // delivery reports -> completed()
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), 100);
    if (message != nullptr) {
      handle(*message);
      rd_kafka_message_destroy(message);
    }
    if (std::chrono::steady_clock::now() - last_commit > std::chrono::milliseconds(200)) {
      commit(false);
      last_commit = std::chrono::steady_clock::now();
    }
  }
  spdlog::info("worker {}: stopping; {} task(s) still running are left to the group", options_.name,
               in_flight_.load());
  rd_kafka_flush(producer_.get(), 5000);
  commit(true);
  rd_kafka_consumer_close(consumer_.get());
}

void TaskWorker::handle(const rd_kafka_message_t& message) {
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (message.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("worker {}: {}", options_.name, rd_kafka_message_errstr(&message));
    }
    return;
  }
  Partition& partition = partitions_[message.partition];
  partition.next = std::max(partition.next, message.offset + 1);
  v1::Task task;
  if (!task.ParseFromArray(message.payload, static_cast<int>(message.len)) ||
      task.kind() == v1::TASK_KIND_UNSPECIFIED) {
    ++skipped_;
    spdlog::error("worker {}: unreadable task at {}[{}]@{}, skipped", options_.name,
                  options_.topics.tasks, message.partition, message.offset);
    return;
  }
  if (task.cancel()) {
    ++cancels_;
    spdlog::info("worker {}: cancel {}", options_.name, task_name(task));
    switch (task.kind()) {
      case v1::TASK_KIND_BUILD:
        ports_.build->cancel(task.key(), task.attempt());
        break;
      case v1::TASK_KIND_DEPLOY:
        ports_.deploy->cancel(task.key(), task.attempt());
        break;
      default:
        ports_.tests->cancel(task.key(), task.attempt());
        break;
    }
    return;
  }
  partition.in_flight.insert(message.offset);
  start_task(task, message.partition, message.offset);
}

void TaskWorker::start_task(const v1::Task& task, int32_t partition, int64_t offset) {
  ++started_;
  ++in_flight_;
  spdlog::info("worker {}: starting {} ({}[{}]@{})", options_.name, task_name(task),
               options_.topics.tasks, partition, offset);
  auto completion = std::make_shared<Completion>(Completion{this, generation_, partition, offset});
  auto header = [this, task] {
    v1::TaskResult r;
    r.set_kind(task.kind());
    r.set_key(task.key());
    r.set_attempt(task.attempt());
    r.set_worker(options_.name);
    return r;
  };
  auto progress = [this, header](const engine::StepProgress& p) {
    v1::TaskResult r = header();
    *r.mutable_progress() = to_proto(p);
    publish(std::move(r), nullptr);
  };
  auto finish = [this, header, completion](auto fill) {
    v1::TaskResult r = header();
    fill(r);
    publish(std::move(r), std::make_unique<Completion>(*completion));
  };
  switch (task.kind()) {
    case v1::TASK_KIND_BUILD:
      ports_.build->start(build_job(task),
                          {progress, [finish](const engine::BuildOutcome& o) {
                             finish([&](v1::TaskResult& r) { *r.mutable_build() = to_proto(o); });
                           }});
      break;
    case v1::TASK_KIND_DEPLOY:
      if (task.deploy().has_target() && options_.learn_target) {
        options_.learn_target(task.deploy().target());
      }
      ports_.deploy->start(deploy_job(task),
                           {progress, [finish](const engine::DeployOutcome& o) {
                              finish([&](v1::TaskResult& r) { *r.mutable_deploy() = to_proto(o); });
                            }});
      break;
    default:
      ports_.tests->start(test_job(task),
                          {progress, [finish](const engine::TestOutcome& o) {
                             finish([&](v1::TaskResult& r) { *r.mutable_test() = to_proto(o); });
                           }});
      break;
  }
}

void TaskWorker::publish(v1::TaskResult result, std::unique_ptr<Completion> completion) {
  const std::string bytes = result.SerializeAsString();
  const std::string& key = result.key();
  const bool is_outcome = completion != nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(options_.topics.results.c_str()),
                        RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_OPAQUE(completion.get()), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // The offset stays uncommitted: after a restart the task is redelivered
    // and the port reports its (recorded) outcome again.
    spdlog::error("worker {}: cannot publish the {} of {}: {}", options_.name,
                  is_outcome ? "outcome" : "progress", task_name(result), rd_kafka_err2str(err));
    return;
  }
  completion.release();  // owned by the record now; freed in delivered()
  if (is_outcome) spdlog::info("worker {}: finished {}", options_.name, task_name(result));
}

void TaskWorker::delivered(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  std::unique_ptr<Completion> completion(static_cast<Completion*>(message->_private));
  if (!completion) return;  // progress
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::error("worker: an outcome was not delivered ({}); its task stays uncommitted",
                  rd_kafka_err2str(message->err));
    return;
  }
  completion->worker->completed(*completion);
}

void TaskWorker::completed(const Completion& completion) {
  ++finished_;
  --in_flight_;
  if (completion.generation != generation_) return;  // partition moved on meanwhile
  auto it = partitions_.find(completion.partition);
  if (it != partitions_.end()) it->second.in_flight.erase(completion.offset);
}

void TaskWorker::commit(bool sync) {
  PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  for (auto& [id, p] : partitions_) {
    const int64_t upto = p.in_flight.empty() ? p.next : *p.in_flight.begin();
    if (upto <= p.committed || upto < 0) continue;
    rd_kafka_topic_partition_list_add(offsets.get(), options_.topics.tasks.c_str(), id)->offset =
        upto;
    p.committed = upto;
  }
  if (offsets->cnt == 0) return;
  if (auto err = rd_kafka_commit(consumer_.get(), offsets.get(), sync ? 0 : 1); err) {
    spdlog::warn("worker {}: commit failed: {}", options_.name, rd_kafka_err2str(err));
  }
}

void TaskWorker::on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    ++generation_;
    partitions_.clear();
    rd_kafka_assign(consumer_.get(), list);
    spdlog::info("worker {}: assigned {} partition(s) of {}", options_.name, list->cnt,
                 options_.topics.tasks);
    return;
  }
  // Revoked: commit what finished while the partitions are still ours; tasks
  // still running here may run again elsewhere, and their ports dedup them.
  commit(true);
  ++generation_;
  partitions_.clear();
  rd_kafka_assign(consumer_.get(), nullptr);
  spdlog::info("worker {}: partitions revoked ({})", options_.name, rd_kafka_err2str(err));
}

void TaskWorker::rebalanced(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<TaskWorker*>(opaque);
  if (self == nullptr) {
    rd_kafka_assign(rk, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? partitions : nullptr);
    return;
  }
  self->on_rebalance(err, partitions);
}

}  // namespace wharf::workers
