#pragma once
// The Kafka relay: publishes every event of the log, in position order, to one
// topic, and remembers how far it got.
//
// Guarantees (docs/kafka.md#delivery-guarantees):
//  - in order and without gaps: an idempotent producer (acks=all, gapless,
//    no local timeout) per session; records of one key are never reordered;
//  - the cursor (store meta `cursor_key`) is the highest position P such that
//    every event <= P was acknowledged by the broker; it only moves forward and
//    is persisted (synced) at most every `persist_interval`;
//  - appends never wait for the relay: it runs on its own thread and reads the
//    log; during a broker outage it retries with backoff and catches up later;
//  - after a restart (or a producer reset) it resends from cursor+1, so a
//    record can appear twice on the topic only for positions > the persisted
//    cursor. Consumers drop a record whose wharf-position is not above the
//    last position they processed from that partition.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/kafka/embedded_cluster.h"
#include "adapters/kafka/kafka_client.h"
#include "adapters/kafka/record_format.h"
#include "events/event_store.h"

namespace wharf::kafka {

struct RelayOptions {
  std::string brokers;  // bootstrap.servers; empty => start the embedded cluster
  std::string topic = kDefaultEventsTopic;
  std::string cursor_key;  // default "kafka.relay.cursor/<topic>" (".../embedded/<topic>" embedded)
  int embedded_partitions = 4;       // partitions of the topic in the embedded cluster
  size_t read_batch = 1000;          // events read from the log per step
  size_t max_in_flight = 100000;     // events handed to the producer, not yet acknowledged
  std::chrono::milliseconds persist_interval{100};
  std::chrono::milliseconds backoff_min{100};   // producer reset / reconnect backoff
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::seconds lag_log_interval{10};
  Properties producer_properties;    // extra librdkafka properties, applied last
  // Called on the relay thread each time the cursor passes an event, in order.
  std::function<void(uint64_t position, int64_t recorded_at_us)> on_delivered;
};

struct RelayStats {
  std::string mode;               // "embedded" or "brokers"
  std::string bootstrap_servers;
  std::string topic;
  uint64_t head_position = 0;       // last durable position of the log
  uint64_t delivered_position = 0;  // every event <= this was acknowledged
  uint64_t persisted_cursor = 0;    // what a restart resumes after
  uint64_t sent_position = 0;       // last event handed to the producer
  uint64_t lag_events = 0;          // head_position - delivered_position
  int64_t lag_ms = 0;               // age of the oldest unacknowledged event; 0 if none
  uint64_t delivered_total = 0;     // acknowledged records this session
  uint64_t producer_resets = 0;     // fatal/delivery errors that restarted the producer
  std::string last_error;
};

class Relay {
 public:
  // Reads the cursor and, with no brokers, starts the embedded cluster and
  // creates the topic there. Does not start relaying.
  static Expected<std::unique_ptr<Relay>, std::string> create(events::EventStore& store,
                                                              RelayOptions options);
  ~Relay();  // stop()
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Starts the relay thread. Logs the mode (embedded or brokers).
  void start();
  // Stops relaying: waits up to `drain` for outstanding acknowledgements,
  // persists the cursor, joins the thread. Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(5));

  // Blocks until every event <= `position` is acknowledged, or the deadline.
  bool wait_delivered(uint64_t position, std::chrono::steady_clock::time_point deadline) const;

  RelayStats stats() const;
  // Prometheus text exposition of stats() (wharf_kafka_relay_*), for /metrics.
  std::string metrics_text() const;

  const std::string& bootstrap_servers() const { return bootstrap_; }
  bool embedded() const { return embedded_ != nullptr; }
  // The in-process cluster in embedded mode, else nullptr (tests use set_down).
  EmbeddedCluster* embedded_cluster() const { return embedded_.get(); }

 private:
  Relay(events::EventStore& store, RelayOptions options);
  void run();
  bool ensure_producer();
  void reset_producer(const std::string& reason);
  bool produce(const events::Envelope& event);
  void on_delivery(uint64_t position, rd_kafka_resp_err_t err);
  void maybe_persist(bool force);
  void maybe_log_lag();
  void sleep_interruptible(std::chrono::milliseconds duration);
  static void delivery_callback(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque);
  static void error_callback(rd_kafka_t*, int err, const char* reason, void* opaque);

  events::EventStore& store_;
  RelayOptions options_;
  std::unique_ptr<EmbeddedCluster> embedded_;
  std::string bootstrap_;

  // Relay-thread state.
  KafkaHandle producer_;
  std::deque<uint8_t> acked_;        // acked_[i]: position delivered_+1+i acknowledged
  std::deque<int64_t> recorded_at_;  // recorded_at_us of the same positions
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point last_persist_{};
  std::chrono::steady_clock::time_point last_lag_log_{};
  bool ignore_deliveries_ = false;   // while a reset purges the old producer
  std::atomic<bool> reset_requested_{false};

  // Shared with readers of stats().
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> persisted_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> delivered_total_{0};
  std::atomic<uint64_t> resets_{0};
  mutable std::mutex mutex_;  // guards last_error_, stop_ with cv_
  mutable std::condition_variable cv_;
  std::string last_error_;
  bool stop_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace wharf::kafka
