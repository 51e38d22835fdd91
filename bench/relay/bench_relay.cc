// bench_relay: the Kafka relay against a bare librdkafka producer, same run.
//
//  1. relay: a store holding N events is relayed to topic bench.relay.<round>
//     (read from RocksDB, envelope bytes, key, headers, in-order cursor);
//  2. baseline: a bare librdkafka producer with the same settings sends the
//     same bytes, keys and headers (prepared in memory) to bench.baseline.<round>;
//     1 and 2 run twice, alternating, after a warm-up; best of each counts;
//  3. lag: events appended live at 10k/s (synced group commits) while the
//     relay runs; p99 of (Kafka acknowledged - append returned), and also
//     from the event's recorded_at (which adds the store's own fsync).
// Broker: a real Apache Kafka started as the tests do (tests/peers/kafka);
// when none can be started, the embedded cluster, and the JSON says so.
//   WHARF_BENCH_RELAY_EVENTS   events for 1 and 2 (default 200000; 1000000 for the full run)
//   WHARF_BENCH_RELAY_LAG_S    seconds of the 10k/s lag phase (default 10)
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "adapters/kafka/embedded_cluster.h"
#include "adapters/kafka/relay.h"
#include "bench/kafka_broker.h"
#include "events/hash_chain.h"
#include "events/ids.h"
#include "tests/test_paths.h"

namespace {

using namespace wharf;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

size_t env_size(const char* name, size_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Appends `count` events over 16 projects, `batch` per append.
void append(events::EventStore& store, size_t count, size_t batch, int seed) {
  for (size_t done = 0; done < count;) {
    const std::string project = "bench-" + std::to_string((seed + done / batch) % 16);
    std::vector<events::Envelope> list;
    for (size_t i = 0; i < batch && done < count; ++i, ++done) {
      events::Envelope e;
      e.set_event_id(events::new_uuid());
      e.set_occurred_at_us(now_us());
      e.mutable_actor()->set_id("bench");
      auto* commit = e.mutable_payload()->mutable_commit_observed();
      commit->set_project_id(project);
      commit->set_run_id(project + "-run-" + std::to_string(done / batch));
      commit->set_commit_sha("0123456789abcdef0123456789abcdef01234567");
      commit->set_branch("main");
      commit->set_subject("bench commit subject of a realistic length");
      list.push_back(std::move(e));
    }
    auto appended = store.append("run-" + project, events::ExpectedVersion::any(), std::move(list));
    if (!appended) throw std::runtime_error(appended.error().message);
  }
}

std::unique_ptr<events::EventStore> open(const std::string& dir, bool sync) {
  events::StoreOptions options;
  options.sync = sync;
  auto store = events::EventStore::open(dir, options);
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(*store);
}

double relay_rate(const std::string& dir, const std::string& brokers, size_t n,
                  const std::string& topic) {
  auto store = open(dir, false);
  kafka::RelayOptions options;
  options.brokers = brokers;
  options.topic = topic;
  auto relay = kafka::Relay::create(*store, options);
  if (!relay) throw std::runtime_error(relay.error());
  const auto start = Clock::now();
  (*relay)->start();
  if (!(*relay)->wait_delivered(n, start + 600s)) throw std::runtime_error("relay timed out");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  (*relay)->stop();
  return n / seconds;
}

struct Prepared {
  std::string key, value, event_id, type, position;
};

void count_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++*static_cast<size_t*>(opaque);
}

// The same records as the relay sends, prepared in memory, through a bare
// producer with the relay's settings.
double baseline_rate(const std::string& dir, const std::string& brokers, size_t n,
                     const std::string& topic) {
  std::vector<Prepared> records;
  records.reserve(n);
  {
    auto store = open(dir, false);
    for (uint64_t from = 1; from <= n; from += 10000) {
      auto batch = store->read_all(from, 10000);
      if (!batch) throw std::runtime_error(batch.error().message);
      for (const auto& e : *batch) {
        records.push_back({kafka::project_key(e), events::serialize_deterministic(e), e.event_id(),
                           e.type(), std::to_string(e.position())});
      }
    }
  }
  auto conf = kafka::make_conf({{"bootstrap.servers", brokers},
                                {"enable.idempotence", "true"},
                                {"acks", "all"},
                                {"message.timeout.ms", "0"},
                                {"enable.gapless.guarantee", "true"},
                                {"queue.buffering.max.messages", "101000"},
                                {"linger.ms", "5"},
                                {"partitioner", "murmur2_random"}},
                               "bench-baseline");
  if (!conf) throw std::runtime_error(conf.error());
  size_t delivered = 0;
  rd_kafka_conf_set_opaque(conf->get(), &delivered);
  rd_kafka_conf_set_dr_msg_cb(conf->get(), count_delivery);
  auto producer = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!producer) throw std::runtime_error(producer.error());
  rd_kafka_t* rk = producer->get();
  const auto start = Clock::now();
  for (const auto& r : records) {
    while (true) {
      auto err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
          RD_KAFKA_V_HEADER(kafka::kHeaderEventId, r.event_id.data(),
                            static_cast<ssize_t>(r.event_id.size())),
          RD_KAFKA_V_HEADER(kafka::kHeaderType, r.type.data(), static_cast<ssize_t>(r.type.size())),
          RD_KAFKA_V_HEADER(kafka::kHeaderPosition, r.position.data(),
                            static_cast<ssize_t>(r.position.size())),
          RD_KAFKA_V_HEADER(kafka::kHeaderSchemaVersion, kafka::kSchemaVersion, -1),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) throw std::runtime_error(rd_kafka_err2str(err));
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  while (delivered < n && Clock::now() - start < 600s) rd_kafka_poll(rk, 10);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (delivered < n) throw std::runtime_error("baseline: not every record was acknowledged");
  return n / seconds;
}

struct LagResult {
  double p99_from_durable_ms = 0;   // append acknowledged (durable) -> Kafka acknowledged
  double p99_from_recorded_ms = 0;  // recorded_at (store clock at append) -> Kafka acknowledged
};

// Relay lag with events appended live at `rate` per second (synced appends,
// one append per 10 ms tick). Delivery times are collected per position and
// matched afterwards with the time the append that wrote them returned.
LagResult measure_lag(const std::string& dir, const std::string& brokers, size_t rate,
                      size_t seconds) {
  auto store = open(dir, true);
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> delivered;  // index position: (acked_us, recorded_us)
  kafka::RelayOptions options;
  options.brokers = brokers;
  options.topic = "bench.lag";
  options.on_delivered = [&](uint64_t position, int64_t recorded_at_us) {
    std::lock_guard lock(mutex);
    if (delivered.size() <= position) delivered.resize(position + 1);
    delivered[position] = {now_us(), recorded_at_us};
  };
  auto relay = kafka::Relay::create(*store, options);
  if (!relay) throw std::runtime_error(relay.error());
  (*relay)->start();
  // Warm-up: the producer connects and the topic exists before measuring.
  append(*store, 100, 100, 0);
  if (!(*relay)->wait_delivered(100, Clock::now() + 60s)) throw std::runtime_error("warm-up");
  const uint64_t first = store->head_position() + 1;

  constexpr size_t kTicksPerSecond = 100;  // 10 ms ticks
  const size_t per_tick = std::max<size_t>(1, rate / kTicksPerSecond);
  std::vector<std::pair<uint64_t, int64_t>>
      durable_at;  // (last position of an append, returned_us)
  const auto start = Clock::now();
  for (size_t tick = 0; tick < seconds * kTicksPerSecond; ++tick) {
    append(*store, per_tick, per_tick, static_cast<int>(tick));
    durable_at.emplace_back(store->head_position(), now_us());
    std::this_thread::sleep_until(start + tick * 10ms + 10ms);
  }
  const uint64_t last = store->head_position();
  if (!(*relay)->wait_delivered(last, Clock::now() + 120s)) {
    throw std::runtime_error("lag phase did not catch up");
  }
  (*relay)->stop();
  std::vector<double> from_durable, from_recorded;
  size_t append_index = 0;
  std::lock_guard lock(mutex);
  for (uint64_t p = first; p <= last; ++p) {
    while (durable_at[append_index].first < p) ++append_index;
    const auto [acked_us, recorded_us] = delivered[p];
    // An event can be relayed before its append returns to the appender.
    from_durable.push_back(std::max<double>(0, (acked_us - durable_at[append_index].second) / 1e3));
    from_recorded.push_back((acked_us - recorded_us) / 1e3);
  }
  auto p99 = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[static_cast<size_t>(0.99 * (v.size() - 1))];
  };
  return {p99(from_durable), p99(from_recorded)};
}

// Sends a few records with the relay's settings and waits for them, so the
// broker's producer-id machinery is loaded before anything is timed.
void warm_up(const std::string& brokers) {
  auto conf = kafka::make_conf({{"bootstrap.servers", brokers}, {"enable.idempotence", "true"}},
                               "bench-warmup");
  if (!conf) throw std::runtime_error(conf.error());
  auto producer = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!producer) throw std::runtime_error(producer.error());
  // Enough records for the broker's JIT to compile its hot paths.
  std::string value(300, 'w');
  for (int i = 0; i < 100000; ++i) {
    while (rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC("bench.warmup"),
                             RD_KAFKA_V_VALUE(value.data(), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer->get(), 10);
    }
  }
  if (rd_kafka_flush(producer->get(), 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("warm-up produce did not complete");
  }
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  const size_t n = env_size("WHARF_BENCH_RELAY_EVENTS", 200000);
  const size_t lag_seconds = env_size("WHARF_BENCH_RELAY_LAG_S", 10);
  const auto root = std::filesystem::temp_directory_path() /
                    ("wharf-bench-relay-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(root);
  const std::string peer = WHARF_KAFKA_PEER_DIR;
  const std::string broker_dir = (root / "broker").string();

  std::unique_ptr<bench::BenchBroker> broker;
  try {
    broker = std::make_unique<bench::BenchBroker>(
        peer, broker_dir,
        std::vector<std::string>{"bench.relay.0", "bench.baseline.0", "bench.relay.1",
                                 "bench.baseline.1", "bench.lag", "bench.warmup"},
        3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_relay: %s\n", e.what());
    return 1;
  }
  if (broker->embedded()) {
    std::fprintf(stderr, "bench_relay: no Apache Kafka broker (%s); using the embedded cluster\n",
                 broker->why_embedded().c_str());
  }
  const std::string broker_kind = broker->kind();
  const std::string brokers = broker->bootstrap();
  std::fprintf(stderr, "bench_relay: broker %s at %s, %zu events\n", broker_kind.c_str(),
               brokers.c_str(), n);

  int rc = 0;
  try {
    const std::string store_dir = (root / "store").string();
    {
      auto store = open(store_dir, false);
      append(*store, n, 100, 0);
    }
    warm_up(brokers);
    // Two alternating rounds, best of each: the broker shares the 2 cores
    // and its JIT keeps warming, which would favour whichever runs later.
    double relay = 0, baseline = 0;
    for (int round = 0; round < 2; ++round) {
      const std::string suffix = "." + std::to_string(round);
      const double r = relay_rate(store_dir, brokers, n, "bench.relay" + suffix);
      const double b = baseline_rate(store_dir, brokers, n, "bench.baseline" + suffix);
      std::fprintf(stderr, "round %d: relay %.0f events/s, baseline %.0f events/s\n", round, r, b);
      relay = std::max(relay, r);
      baseline = std::max(baseline, b);
    }
    const LagResult lag = measure_lag((root / "lag").string(), brokers, 10000, lag_seconds);
    std::fprintf(
        stderr,
        "lag p99 at 10k events/s: %.1f ms after the append returned, %.1f ms after recorded_at\n",
        lag.p99_from_durable_ms, lag.p99_from_recorded_ms);
    std::printf(
        "{\"bench\":\"relay\",\"broker\":\"%s\",\"events\":%zu,\"events_per_s\":%.0f,"
        "\"baseline_events_per_s\":%.0f,\"ratio\":%.3f,\"p99_lag_ms\":%.1f,"
        "\"p99_lag_from_recorded_ms\":%.1f,\"lag_rate_events_per_s\":10000}\n",
        broker_kind.c_str(), n, relay, baseline, relay / baseline, lag.p99_from_durable_ms,
        lag.p99_from_recorded_ms);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_relay failed: %s\n", e.what());
    rc = 1;
  }
  broker.reset();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return rc;
}
