#include "adapters/kafka/relay.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "events/hash_chain.h"

namespace wharf::kafka {
namespace {

using Clock = std::chrono::steady_clock;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Settings that make the relay's guarantees hold; see relay.h.
Properties producer_properties(const RelayOptions& options, const std::string& bootstrap) {
  Properties props{
      {"bootstrap.servers", bootstrap},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // Never drop a record locally: outages are waited out, not timed out,
      // so the series has no gap. Memory is bounded by max_in_flight instead.
      {"message.timeout.ms", "0"},
      // Any error that could leave a gap stops the producer; the relay then
      // resends from its cursor.
      {"enable.gapless.guarantee", "true"},
      {"queue.buffering.max.messages", std::to_string(options.max_in_flight + 1000)},
      {"queue.buffering.max.kbytes", "1048576"},
      {"linger.ms", "5"},
      // Java clients' partitioner, so every client maps a project to one partition.
      {"partitioner", "murmur2_random"},
      {"retry.backoff.ms", std::to_string(options.backoff_min.count())},
      {"reconnect.backoff.ms", std::to_string(options.backoff_min.count())},
      {"reconnect.backoff.max.ms", std::to_string(options.backoff_max.count())},
  };
  props.insert(props.end(), options.producer_properties.begin(),
               options.producer_properties.end());
  return props;
}

}  // namespace

Expected<std::unique_ptr<Relay>, std::string> Relay::create(events::EventStore& store,
                                                            RelayOptions options) {
  if (options.topic.empty()) return unexpected(std::string("kafka relay: empty topic name"));
  if (options.cursor_key.empty()) {
    // The embedded topic dies with the process; its cursor must not make a
    // real broker's topic (configured later) skip the events it saw.
    options.cursor_key = (options.brokers.empty() ? "kafka.relay.cursor/embedded/"
                                                  : "kafka.relay.cursor/") +
                         options.topic;
  }
  std::unique_ptr<Relay> relay(new Relay(store, std::move(options)));
  const RelayOptions& opts = relay->options_;

  auto cursor = store.get_meta(opts.cursor_key);
  if (cursor) {
    auto position = parse_position(*cursor);
    if (!position) {
      return unexpected("kafka relay: cursor " + opts.cursor_key + " holds '" + *cursor +
                        "', not a position");
    }
    relay->delivered_ = relay->persisted_ = relay->sent_ = *position;
  } else if (cursor.error().code != events::ErrorCode::kNotFound) {
    return unexpected("kafka relay: reading cursor: " + cursor.error().message);
  }

  if (opts.brokers.empty()) {
    auto cluster = EmbeddedCluster::start(1);
    if (!cluster) return unexpected(cluster.error());
    if (auto created = (*cluster)->create_topic(opts.topic, opts.embedded_partitions); !created) {
      return unexpected(created.error());
    }
    relay->bootstrap_ = (*cluster)->bootstrap_servers();
    relay->embedded_ = std::move(*cluster);
  } else {
    relay->bootstrap_ = opts.brokers;
  }
  // Fail early on a bad producer property rather than on the relay thread.
  if (auto conf = make_conf(producer_properties(opts, relay->bootstrap_), "wharf-relay"); !conf) {
    return unexpected(conf.error());
  }
  return relay;
}

Relay::Relay(events::EventStore& store, RelayOptions options)
    : store_(store), options_(std::move(options)) {}

Relay::~Relay() { stop(std::chrono::milliseconds(0)); }

void Relay::start() {
  if (thread_.joinable()) return;
  if (embedded_) {
    spdlog::info(
        "kafka relay: EMBEDDED mode (no brokers configured): in-process cluster at {}, topic {}; "
        "memory only, one machine (docs/kafka.md)",
        bootstrap_, options_.topic);
  } else {
    spdlog::info("kafka relay: BROKERS mode: {} topic {}", bootstrap_, options_.topic);
  }
  spdlog::info("kafka relay: resuming after cursor {} (log head {})", persisted_.load(),
               store_.head_position());
  thread_ = std::thread([this] { run(); });
}

void Relay::stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard lock(mutex_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The relay thread has returned; finish here what it left in flight.
  if (producer_) {
    auto deadline = Clock::now() + drain;
    while (sent_ > delivered_ && !reset_requested_ && Clock::now() < deadline) {
      rd_kafka_poll(producer_.get(), 10);
    }
    maybe_persist(true);
    ignore_deliveries_ = true;
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_.get(), 0);
    producer_.reset();
  }
  maybe_persist(true);
}

bool Relay::ensure_producer() {
  if (producer_) return true;
  auto conf = make_conf(producer_properties(options_, bootstrap_), "wharf-relay");
  if (!conf) {
    spdlog::error("kafka relay: {}", conf.error());
    return false;
  }
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Relay::delivery_callback);
  rd_kafka_conf_set_error_cb(conf->get(), &Relay::error_callback);
  auto handle = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!handle) {
    spdlog::error("kafka relay: {}", handle.error());
    return false;
  }
  producer_ = std::move(*handle);
  return true;
}

// Throws the producer away with everything in flight and resends from the
// cursor. Records between the cursor and what the old producer had delivered
// appear twice on the topic; consumers drop them by position.
void Relay::reset_producer(const std::string& reason) {
  resets_++;
  {
    std::lock_guard lock(mutex_);
    last_error_ = reason;
  }
  spdlog::warn("kafka relay: restarting producer after: {}; resending from position {}", reason,
               delivered_.load() + 1);
  if (producer_) {
    ignore_deliveries_ = true;
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_.get(), 0);
    producer_.reset();
    ignore_deliveries_ = false;
  }
  acked_.clear();
  recorded_at_.clear();
  sent_ = delivered_.load();
  reset_requested_ = false;
  backoff_ = std::clamp(backoff_ * 2, options_.backoff_min, options_.backoff_max);
  sleep_interruptible(backoff_);
}

void Relay::sleep_interruptible(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, duration, [this] { return stop_; });
}

bool Relay::produce(const events::Envelope& event) {
  // The stored bytes are deterministic; so are the record's (maps sorted).
  const std::string value = events::serialize_deterministic(event);
  const std::string key = project_key(event);
  const std::string position = std::to_string(event.position());
  const std::string& type = event.type();
  while (!stopping_ && !reset_requested_) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(options_.topic.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADER(kHeaderEventId, event.event_id().data(),
                          static_cast<ssize_t>(event.event_id().size())),
        RD_KAFKA_V_HEADER(kHeaderType, type.data(), static_cast<ssize_t>(type.size())),
        RD_KAFKA_V_HEADER(kHeaderPosition, position.data(),
                          static_cast<ssize_t>(position.size())),
        RD_KAFKA_V_HEADER(kHeaderSchemaVersion, kSchemaVersion, -1),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(event.position()))),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      sent_ = event.position();
      acked_.push_back(0);
      recorded_at_.push_back(event.recorded_at_us());
      return true;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      reset_requested_ = true;
      std::lock_guard lock(mutex_);
      last_error_ = std::string("produce: ") + rd_kafka_err2str(err);
      return false;
    }
    rd_kafka_poll(producer_.get(), 10);  // make room by serving acknowledgements
  }
  return false;
}

void Relay::delivery_callback(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  static_cast<Relay*>(opaque)->on_delivery(
      static_cast<uint64_t>(reinterpret_cast<uintptr_t>(msg->_private)), msg->err);
}

void Relay::error_callback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* relay = static_cast<Relay*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    relay->reset_requested_ = true;
    std::lock_guard lock(relay->mutex_);
    relay->last_error_ = std::string("fatal: ") + fatal;
    return;
  }
  // Transport errors (broker down, all brokers down) are retried by
  // librdkafka; they only show up in the log and in lag.
  spdlog::debug("kafka relay: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
                reason);
  std::lock_guard lock(relay->mutex_);
  relay->last_error_ = reason;
}

void Relay::on_delivery(uint64_t position, rd_kafka_resp_err_t err) {
  if (ignore_deliveries_) return;
  const uint64_t base = delivered_.load();
  if (position <= base || position - base > acked_.size()) return;  // not ours (stale)
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // The producer could not deliver it; with gapless delivery this ends the
    // session: the relay restarts the producer and resends from the cursor.
    reset_requested_ = true;
    std::lock_guard lock(mutex_);
    last_error_ = "delivery of position " + std::to_string(position) + ": " + rd_kafka_err2str(err);
    return;
  }
  acked_[position - base - 1] = 1;
  uint64_t delivered = base;
  while (!acked_.empty() && acked_.front() != 0) {
    acked_.pop_front();
    const int64_t recorded = recorded_at_.front();
    recorded_at_.pop_front();
    ++delivered;
    delivered_total_++;
    if (options_.on_delivered) options_.on_delivered(delivered, recorded);
  }
  if (delivered != base) {
    delivered_ = delivered;
    backoff_ = std::chrono::milliseconds(0);
    cv_.notify_all();
  }
}

void Relay::maybe_persist(bool force) {
  const uint64_t delivered = delivered_.load();
  if (delivered <= persisted_) return;
  const auto now = Clock::now();
  if (!force && now - last_persist_ < options_.persist_interval) return;
  last_persist_ = now;
  auto written = store_.put_meta(options_.cursor_key, std::to_string(delivered));
  if (!written) {
    spdlog::warn("kafka relay: persisting cursor {}: {}", delivered, written.error().message);
    return;
  }
  persisted_ = delivered;
}

void Relay::maybe_log_lag() {
  const auto now = Clock::now();
  if (now - last_lag_log_ < options_.lag_log_interval) return;
  last_lag_log_ = now;
  RelayStats s = stats();
  auto level = s.lag_events > 0 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level,
              "kafka relay: lag {} events ({} ms), delivered {} of head {}, cursor {}{}{}",
              s.lag_events, s.lag_ms, s.delivered_position, s.head_position, s.persisted_cursor,
              s.last_error.empty() ? "" : ", last error: ", s.last_error);
}

void Relay::run() {
  pthread_setname_np(pthread_self(), "wharf-relay");  // names it in top and perf
  last_lag_log_ = Clock::now();
  while (!stopping_) {
    if (reset_requested_) {
      std::string reason;
      {
        std::lock_guard lock(mutex_);
        reason = last_error_;
      }
      reset_producer(reason);
      continue;
    }
    if (!ensure_producer()) {
      backoff_ = std::clamp(backoff_ * 2, options_.backoff_min, options_.backoff_max);
      sleep_interruptible(backoff_);
      continue;
    }
    rd_kafka_poll(producer_.get(), 0);

    bool produced = false;
    const uint64_t in_flight = sent_ - delivered_;
    if (in_flight < options_.max_in_flight) {
      const size_t room =
          std::min<uint64_t>(options_.read_batch, options_.max_in_flight - in_flight);
      auto batch = store_.read_all(sent_ + 1, room);
      if (!batch) {
        if (batch.error().code == events::ErrorCode::kClosed) break;
        spdlog::error("kafka relay: reading the log after {}: {}", sent_.load(),
                      batch.error().message);
        sleep_interruptible(options_.backoff_max);
        continue;
      }
      for (const auto& event : *batch) {
        if (event.position() != sent_ + 1) {
          spdlog::error("kafka relay: log returned position {} after {}; rereading",
                        event.position(), sent_.load());
          break;
        }
        if (!produce(event)) break;
        produced = true;
      }
    }
    rd_kafka_poll(producer_.get(), 0);
    maybe_persist(false);
    maybe_log_lag();
    if (produced) continue;
    if (sent_ > delivered_) {
      rd_kafka_poll(producer_.get(), 5);  // acknowledgements wake this at once
    } else {
      store_.wait_for_head_beyond(sent_, Clock::now() + std::chrono::milliseconds(100));
    }
  }
}

bool Relay::wait_delivered(uint64_t position, Clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  while (delivered_ < position) {
    if (cv_.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(50))) ==
            std::cv_status::timeout &&
        Clock::now() >= deadline) {
      return delivered_ >= position;
    }
  }
  return true;
}

RelayStats Relay::stats() const {
  RelayStats s;
  s.mode = embedded_ ? "embedded" : "brokers";
  s.bootstrap_servers = bootstrap_;
  s.topic = options_.topic;
  s.head_position = store_.head_position();
  s.delivered_position = delivered_;
  s.persisted_cursor = persisted_;
  s.sent_position = sent_;
  s.lag_events = s.head_position > s.delivered_position ? s.head_position - s.delivered_position
                                                        : 0;
  if (s.lag_events > 0) {
    auto oldest = store_.read_all(s.delivered_position + 1, 1);
    if (oldest && !oldest->empty()) {
      s.lag_ms = std::max<int64_t>(0, (now_us() - oldest->front().recorded_at_us()) / 1000);
    }
  }
  s.delivered_total = delivered_total_;
  s.producer_resets = resets_;
  std::lock_guard lock(mutex_);
  s.last_error = last_error_;
  return s;
}

std::string Relay::metrics_text() const {
  RelayStats s = stats();
  std::ostringstream out;
  const std::string labels = "{topic=\"" + s.topic + "\",mode=\"" + s.mode + "\"}";
  auto gauge = [&](const char* name, const char* help, auto value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
        << name << labels << ' ' << value << '\n';
  };
  gauge("wharf_kafka_relay_lag_events", "Events appended but not yet acknowledged by Kafka.",
        s.lag_events);
  gauge("wharf_kafka_relay_lag_ms", "Age of the oldest event not yet acknowledged by Kafka.",
        s.lag_ms);
  gauge("wharf_kafka_relay_delivered_position", "Every event up to here is on the topic.",
        s.delivered_position);
  gauge("wharf_kafka_relay_cursor", "Persisted cursor: a restart resumes after it.",
        s.persisted_cursor);
  gauge("wharf_kafka_relay_delivered_total", "Records acknowledged since start.",
        s.delivered_total);
  gauge("wharf_kafka_relay_producer_resets_total", "Producer restarts after fatal errors.",
        s.producer_resets);
  return out.str();
}

}  // namespace wharf::kafka
