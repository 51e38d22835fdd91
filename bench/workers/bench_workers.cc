// bench_workers: builds handed to `wharf worker`s over Kafka, against a bare
// two-hop echo over the same broker, same run.
//
//  1. wharf: serve's TaskDispatcher publishes N build tasks to a task topic;
//     two TaskWorkers in one consumer group (in this process, ports that
//     finish at once) run them and publish outcomes; the dispatcher turns
//     each outcome into its callback. Measured: tasks/s until the last
//     callback, and p99 of dispatch -> callback at a paced 200 tasks/s.
//  2. baseline: the same number of records of the same size go producer ->
//     topic -> an echo consumer that produces them to a second topic ->
//     consumer: the two hops with none of wharf's logic (no protobuf, no
//     offsets tracking, no callbacks), two echo members as wharf has two
//     workers. Same rates, same measurements; two alternating rounds.
// Broker: a real Apache Kafka started as the tests do, else the embedded one.
//   WHARF_BENCH_TASKS   tasks for the throughput phase (default 20000)
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "adapters/workers/task_codec.h"
#include "adapters/workers/task_dispatcher.h"
#include "adapters/workers/task_worker.h"
#include "bench/kafka_broker.h"
#include "tests/test_paths.h"

namespace {

using namespace wharf;
using Clock = std::chrono::steady_clock;

size_t env_size(const char* name, size_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

// Ports that finish every job at once: the benchmark measures the transport.
class InstantBuilds final : public engine::BuildRunner {
 public:
  void start(const engine::BuildJob& job, engine::Callbacks<engine::BuildOutcome> cb) override {
    cb.done({true, "sha256:" + job.run_id, "", "", 0, 0});
  }
  void cancel(const std::string&, uint32_t) override {}
};
class NoDeploys final : public engine::DeployTarget {
 public:
  void start(const engine::DeployJob&, engine::Callbacks<engine::DeployOutcome> cb) override {
    cb.done({true, "", ""});
  }
  void cancel(const std::string&, uint32_t) override {}
};
class NoTests final : public engine::TestRunner {
 public:
  void start(const engine::TestJob&, engine::Callbacks<engine::TestOutcome> cb) override {
    cb.done({true, {}, ""});
  }
  void cancel(const std::string&, uint32_t) override {}
};

// Counts completions; records each one's latency.
class Tally {
 public:
  void done(Clock::time_point sent) {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
    std::lock_guard lock(mutex_);
    latencies_.push_back(ms);
    cv_.notify_all();
  }
  bool wait_for(size_t n, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return latencies_.size() >= n; });
  }
  double p99() {
    std::lock_guard lock(mutex_);
    if (latencies_.empty()) return 0;
    std::sort(latencies_.begin(), latencies_.end());
    return latencies_[std::min(latencies_.size() - 1, latencies_.size() * 99 / 100)];
  }
  void reset() {
    std::lock_guard lock(mutex_);
    latencies_.clear();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<double> latencies_;
};

engine::BuildJob job_of(size_t i, const std::string& prefix) {
  engine::BuildJob job{prefix + std::to_string(i), "bench",          1,
                       std::string(40, 'a'),       "/srv/git/bench", {}};
  job.step.set_command("make dist");
  job.step.set_artifact_path("dist");
  return job;
}

// Sends `n` at `rate` per second (0 = as fast as possible) through `send`.
template <typename Send>
void pace(size_t n, size_t rate, Send send) {
  const auto start = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    if (rate > 0)
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000 / rate));
    send(i);
  }
}

struct Result {
  double per_s = 0;
  double p99_ms = 0;
};

Result run_wharf(const workers::TaskTopics& topics, size_t n, size_t paced) {
  InstantBuilds builds[2];
  NoDeploys deploys[2];
  NoTests tests[2];
  std::vector<std::unique_ptr<workers::TaskWorker>> group;
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    workers::WorkerOptions options;
    options.topics = topics;
    options.group = "bench-workers";
    options.name = "bench-" + std::to_string(i);
    auto worker = workers::TaskWorker::create(options, {&builds[i], &deploys[i], &tests[i]});
    if (!worker) throw std::runtime_error(worker.error());
    group.push_back(std::move(*worker));
  }
  for (auto& w : group) threads.emplace_back([&w] { w->run(); });
  auto dispatcher = workers::TaskDispatcher::create(topics, "bench-serve");
  if (!dispatcher) throw std::runtime_error(dispatcher.error());

  Tally tally;
  auto send = [&](size_t i, const std::string& prefix) {
    const auto sent = Clock::now();
    (*dispatcher)
        ->build_runner()
        .start(job_of(i, prefix),
               {nullptr, [&tally, sent](const engine::BuildOutcome&) { tally.done(sent); }});
  };
  // Warm-up: the group settles and every partition has a leader and a reader.
  pace(200, 0, [&](size_t i) { send(i, "warm-"); });
  if (!tally.wait_for(200, std::chrono::seconds(120)))
    throw std::runtime_error("warm-up timed out");
  tally.reset();

  Result result;
  const auto start = Clock::now();
  pace(n, 0, [&](size_t i) { send(i, "run-"); });
  if (!tally.wait_for(n, std::chrono::seconds(600)))
    throw std::runtime_error("throughput timed out");
  result.per_s = n / std::chrono::duration<double>(Clock::now() - start).count();
  tally.reset();
  pace(paced, 200, [&](size_t i) { send(i, "paced-"); });
  if (!tally.wait_for(paced, std::chrono::seconds(120)))
    throw std::runtime_error("paced timed out");
  result.p99_ms = tally.p99();

  for (auto& w : group) w->stop();
  for (auto& t : threads) t.join();
  (*dispatcher)->stop();
  return result;
}

kafka::KafkaHandle client(rd_kafka_type_t type, kafka::Properties props, const std::string& name) {
  auto conf = kafka::make_conf(props, name);
  if (!conf) throw std::runtime_error(conf.error());
  auto handle = kafka::make_handle(type, std::move(*conf));
  if (!handle) throw std::runtime_error(handle.error());
  if (type == RD_KAFKA_CONSUMER) rd_kafka_poll_set_consumer(handle->get());
  return std::move(*handle);
}

void subscribe(rd_kafka_t* consumer, const std::string& topic) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
}

// The same two hops with nothing on top: request topic -> echo -> reply topic.
Result run_baseline(const workers::TaskTopics& topics, const std::string& requests,
                    const std::string& replies, size_t n, size_t paced) {
  const auto producer_props = workers::producer_properties(topics);
  auto consumer_props = [&](const std::string& group) {
    return kafka::Properties{{"bootstrap.servers", topics.bootstrap},
                             {"group.id", group},
                             {"auto.offset.reset", "earliest"},
                             {"fetch.wait.max.ms", "100"},
                             {"enable.partition.eof", "false"}};
  };
  auto sender = client(RD_KAFKA_PRODUCER, producer_props, "baseline-send");
  auto receiver = client(RD_KAFKA_CONSUMER, consumer_props("baseline-recv"), "baseline-recv");
  subscribe(receiver.get(), replies);

  std::mutex mutex;
  std::map<std::string, Clock::time_point> sent_at;
  Tally tally;
  std::atomic<bool> stop{false};
  // Two echo members in one group, as wharf runs two workers.
  std::vector<std::thread> echoes;
  for (int e = 0; e < 2; ++e) {
    echoes.emplace_back([&, e] {
      auto out = client(RD_KAFKA_PRODUCER, producer_props, "baseline-echo-" + std::to_string(e));
      auto in = client(RD_KAFKA_CONSUMER, consumer_props("baseline-echo"),
                       "baseline-echo-in-" + std::to_string(e));
      subscribe(in.get(), requests);
      while (!stop) {
        rd_kafka_poll(out.get(), 0);
        rd_kafka_message_t* m = rd_kafka_consumer_poll(in.get(), 50);
        if (m == nullptr) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_producev(out.get(), RD_KAFKA_V_TOPIC(replies.c_str()),
                            RD_KAFKA_V_KEY(m->key, m->key_len),
                            RD_KAFKA_V_VALUE(m->payload, m->len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        }
        rd_kafka_message_destroy(m);
      }
      rd_kafka_flush(out.get(), 1000);
      rd_kafka_consumer_close(in.get());
    });
  }
  std::thread receive([&] {
    while (!stop) {
      rd_kafka_poll(sender.get(), 0);
      rd_kafka_message_t* m = rd_kafka_consumer_poll(receiver.get(), 50);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string key(static_cast<const char*>(m->key), m->key_len);
        Clock::time_point at;
        {
          std::lock_guard lock(mutex);
          at = sent_at[key];
        }
        tally.done(at);
      }
      rd_kafka_message_destroy(m);
    }
  });
  auto send = [&](size_t i, const std::string& prefix) {
    // The same bytes a task carries.
    const std::string bytes = workers::to_task(job_of(i, prefix)).SerializeAsString();
    const std::string key = prefix + std::to_string(i);
    {
      std::lock_guard lock(mutex);
      sent_at[key] = Clock::now();
    }
    rd_kafka_producev(sender.get(), RD_KAFKA_V_TOPIC(requests.c_str()),
                      RD_KAFKA_V_KEY(key.data(), key.size()),
                      RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  };
  pace(200, 0, [&](size_t i) { send(i, "warm-"); });
  if (!tally.wait_for(200, std::chrono::seconds(120)))
    throw std::runtime_error("baseline warm-up timed out");
  tally.reset();
  Result result;
  const auto start = Clock::now();
  pace(n, 0, [&](size_t i) { send(i, "run-"); });
  if (!tally.wait_for(n, std::chrono::seconds(600))) throw std::runtime_error("baseline timed out");
  result.per_s = n / std::chrono::duration<double>(Clock::now() - start).count();
  tally.reset();
  pace(paced, 200, [&](size_t i) { send(i, "paced-"); });
  if (!tally.wait_for(paced, std::chrono::seconds(120)))
    throw std::runtime_error("baseline paced timed out");
  result.p99_ms = tally.p99();
  stop = true;
  for (auto& e : echoes) e.join();
  receive.join();
  rd_kafka_consumer_close(receiver.get());
  return result;
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  const size_t n = env_size("WHARF_BENCH_TASKS", 20000);
  const size_t paced = 1000;  // 5 s at 200 tasks/s
  const auto root = std::filesystem::temp_directory_path() /
                    ("wharf-bench-workers-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(root);
  int rc = 0;
  try {
    workers::TaskTopics topics;
    topics.tasks = "bench.tasks";
    topics.results = "bench.results";
    topics.partitions = 6;
    std::vector<std::string> embedded_topics;
    for (const char* r : {".0", ".1"}) {
      for (const char* base : {"bench.tasks", "bench.results", "bench.echo.in", "bench.echo.out"}) {
        embedded_topics.push_back(std::string(base) + r);
      }
    }
    bench::BenchBroker broker(WHARF_KAFKA_PEER_DIR, (root / "broker").string(), embedded_topics,
                              topics.partitions);
    topics.bootstrap = broker.bootstrap();
    std::fprintf(stderr, "bench_workers: broker %s at %s, %zu tasks, 2 workers\n",
                 broker.kind().c_str(), topics.bootstrap.c_str(), n);
    // Two alternating rounds with fresh groups, best of each: the broker's JIT
    // keeps warming, which would favour whichever runs later.
    Result baseline, wharf;
    for (int round = 0; round < 2; ++round) {
      workers::TaskTopics t = topics;
      const std::string r = "." + std::to_string(round);
      t.tasks += r;
      t.results += r;
      workers::TaskTopics echo = topics;
      echo.tasks = "bench.echo.in" + r;
      echo.results = "bench.echo.out" + r;
      if (!broker.embedded()) {
        for (const auto& pair : {t, echo}) {
          if (auto made = workers::ensure_topics(pair); !made)
            throw std::runtime_error(made.error());
        }
      }
      const Result b = run_baseline(echo, echo.tasks, echo.results, n, paced);
      std::fprintf(stderr, "round %d baseline: %.0f/s, p99 %.1f ms at 200/s\n", round, b.per_s,
                   b.p99_ms);
      const Result w = run_wharf(t, n, paced);
      std::fprintf(stderr, "round %d wharf:    %.0f/s, p99 %.1f ms at 200/s\n", round, w.per_s,
                   w.p99_ms);
      baseline.per_s = std::max(baseline.per_s, b.per_s);
      wharf.per_s = std::max(wharf.per_s, w.per_s);
      baseline.p99_ms = round == 0 ? b.p99_ms : std::min(baseline.p99_ms, b.p99_ms);
      wharf.p99_ms = round == 0 ? w.p99_ms : std::min(wharf.p99_ms, w.p99_ms);
    }
    std::printf(
        "{\"bench\":\"workers\",\"broker\":\"%s\",\"tasks\":%zu,\"workers\":2,\"tasks_per_s\":%.0f,"
        "\"baseline_per_s\":%.0f,\"ratio\":%.3f,\"p99_round_trip_ms\":%.1f,"
        "\"baseline_p99_round_trip_ms\":%.1f,\"paced_rate_per_s\":200}\n",
        broker.kind().c_str(), n, wharf.per_s, baseline.per_s, wharf.per_s / baseline.per_s,
        wharf.p99_ms, baseline.p99_ms);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_workers failed: %s\n", e.what());
    rc = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return rc;
}
