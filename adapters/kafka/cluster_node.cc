#include "adapters/kafka/cluster_node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "adapters/kafka/record_format.h"
#include "events/hash_chain.h"
#include "events/ids.h"

namespace wharf::kafka {
namespace {

using Clock = std::chrono::steady_clock;

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using KafkaError = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

struct PartitionsDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using Partitions = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionsDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct ConfigResourceDeleter {
  void operator()(rd_kafka_ConfigResource_t* r) const { rd_kafka_ConfigResource_destroy(r); }
};

Properties with_extra(Properties base, const Properties& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

std::string error_text(const rd_kafka_error_t* e) {
  return std::string(rd_kafka_error_name(e)) + ": " + rd_kafka_error_string(e);
}

bool has_partition_zero(const rd_kafka_topic_partition_list_t* list, const std::string& topic) {
  for (int i = 0; list != nullptr && i < list->cnt; ++i) {
    if (list->elems[i].partition == 0 && topic == list->elems[i].topic) return true;
  }
  return false;
}

// What wharf requires of the events topic, as (setting, required value).
std::vector<std::pair<std::string, std::string>> topic_settings(const ClusterOptions& o) {
  return {{"min.insync.replicas", std::to_string(o.min_insync_replicas)},
          {"flush.messages", "1"},
          {"retention.ms", "-1"},
          {"retention.bytes", "-1"},
          {"unclean.leader.election.enable", "false"},
          {"cleanup.policy", "delete"}};
}

// Compares an existing topic's setting with what wharf needs; the reason it
// is weaker, or empty.
std::string weaker(const std::string& name, const std::string& have, const std::string& need) {
  if (name == "min.insync.replicas") {
    if (std::stol(have) < std::stol(need)) return name + "=" + have + " (need >= " + need + ")";
    return {};
  }
  if (have != need) return name + "=" + have + " (need " + need + ")";
  return {};
}

// Prefix of a check that failed because a topic just created is not yet
// visible everywhere: the check is repeated for a while.
constexpr const char* kNotYet = "not yet: ";

Expected<void, std::string> check_existing_topic(rd_kafka_t* admin, const ClusterOptions& o) {
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(admin, o.topic.c_str(), nullptr);
  auto err = rd_kafka_metadata(admin, 0, handle, &metadata, 10000);
  rd_kafka_topic_destroy(handle);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unexpected(std::string("metadata of ") + o.topic + ": " + rd_kafka_err2str(err));
  }
  std::string problem;
  if (metadata->topic_cnt != 1 || metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(metadata);
    return unexpected(std::string(kNotYet) + "no metadata for topic " + o.topic);
  } else if (metadata->topics[0].partition_cnt != 1) {
    problem = "partitions=" + std::to_string(metadata->topics[0].partition_cnt) + " (need 1)";
  } else if (metadata->topics[0].partitions[0].replica_cnt < o.replication_factor) {
    problem = "replication factor " +
              std::to_string(metadata->topics[0].partitions[0].replica_cnt) +
              " (need >= " + std::to_string(o.replication_factor) + ")";
  }
  rd_kafka_metadata_destroy(metadata);
  if (!problem.empty())
    return unexpected("topic " + o.topic + " is weaker than required: " + problem);

  std::unique_ptr<rd_kafka_ConfigResource_t, ConfigResourceDeleter> resource(
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, o.topic.c_str()));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(admin));
  rd_kafka_DescribeConfigs(admin, resources, 1, nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(rd_kafka_queue_poll(queue.get(), 30000));
  if (!event) return unexpected(std::string("no answer to DescribeConfigs within 30 s"));
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unexpected(std::string(kNotYet) +
                      "DescribeConfigs: " + rd_kafka_event_error_string(event.get()));
  }
  size_t count = 0;
  const rd_kafka_ConfigResource_t** described = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(event.get()), &count);
  if (count != 1) return unexpected(std::string("DescribeConfigs: no result for the topic"));
  size_t entries = 0;
  const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(described[0], &entries);
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < entries; ++i) {
    const char* v = rd_kafka_ConfigEntry_value(configs[i]);
    values[rd_kafka_ConfigEntry_name(configs[i])] = v != nullptr ? v : "";
  }
  for (const auto& [name, need] : topic_settings(o)) {
    auto it = values.find(name);
    if (it == values.end()) {
      return unexpected(std::string(kNotYet) + "topic " + o.topic + ": setting " + name +
                        " unknown");
    }
    if (auto why = weaker(name, it->second, need); !why.empty()) {
      return unexpected("topic " + o.topic + " is weaker than required: " + why +
                        "; fix it with kafka-configs.sh --alter or use another topic");
    }
  }
  return {};
}

// Reads partition 0 of `topic` (read_committed) from `from_offset` to its
// end, handing each record to `visit`.
Expected<void, std::string> scan_committed(const ClusterOptions& o, int64_t from_offset,
                                           const std::function<void(rd_kafka_message_t*)>& visit) {
  auto conf = make_conf(with_extra({{"bootstrap.servers", o.brokers},
                                    {"group.id", "wharf." + o.cluster + ".resolver"},
                                    {"enable.auto.commit", "false"},
                                    {"enable.partition.eof", "true"},
                                    {"isolation.level", "read_committed"},
                                    {"auto.offset.reset", "error"}},
                                   o.extra),
                        "wharf-cluster-resolver");
  if (!conf) return unexpected(conf.error());
  auto consumer = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!consumer) return unexpected(consumer.error());
  Partitions list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), o.topic.c_str(), 0)->offset = from_offset;
  rd_kafka_assign(consumer->get(), list.get());
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    Message msg(rd_kafka_consumer_poll(consumer->get(), 100));
    if (!msg) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return {};
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err == RD_KAFKA_RESP_ERR__TRANSPORT) continue;
      return unexpected(std::string("reading ") + o.topic + ": " +
                        rd_kafka_message_errstr(msg.get()));
    }
    visit(msg.get());
  }
  return unexpected("reading " + o.topic + " to its end took over 30 s");
}

// The position header of a record (0 if absent).
uint64_t record_position(rd_kafka_message_t* msg) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, kHeaderPosition, &value, &size) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return 0;
  }
  return parse_position(std::string(static_cast<const char*>(value), size)).value_or(0);
}

// The per-message opaque (RD_KAFKA_V_OPAQUE) is msg->_private; the callback's
// own opaque argument is the handle's.
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* last = static_cast<std::atomic<int64_t>*>(msg->_private);
  if (last != nullptr && msg->err == RD_KAFKA_RESP_ERR_NO_ERROR && msg->offset > last->load()) {
    last->store(msg->offset);
  }
}

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t* partitions, void* opaque);

}  // namespace

const char* to_string(ClusterRole role) {
  switch (role) {
    case ClusterRole::kCatchingUp:
      return "catching_up";
    case ClusterRole::kFollower:
      return "follower";
    case ClusterRole::kElecting:
      return "electing";
    case ClusterRole::kLeader:
      return "leader";
    case ClusterRole::kStopped:
      return "stopped";
  }
  return "unknown";
}

Expected<void, std::string> ensure_cluster_topic(const ClusterOptions& o) {
  auto conf =
      make_conf(with_extra({{"bootstrap.servers", o.brokers}}, o.extra), "wharf-cluster-admin");
  if (!conf) return unexpected(conf.error());
  auto admin = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!admin) return unexpected(admin.error());
  char error[512];
  std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter> topic(
      rd_kafka_NewTopic_new(o.topic.c_str(), 1, o.replication_factor, error, sizeof(error)));
  if (!topic) return unexpected("topic " + o.topic + ": " + error);
  for (const auto& [name, value] : topic_settings(o)) {
    rd_kafka_NewTopic_set_config(topic.get(), name.c_str(), value.c_str());
  }
  rd_kafka_NewTopic_t* requests[] = {topic.get()};
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(admin->get()));
  rd_kafka_CreateTopics(admin->get(), requests, 1, nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(rd_kafka_queue_poll(queue.get(), 30000));
  if (!event) return unexpected(std::string("no answer from Kafka to CreateTopics within 30 s"));
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unexpected(std::string("CreateTopics: ") + rd_kafka_event_error_string(event.get()));
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    auto err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::info(
          "cluster: created topic {} (1 partition, replication factor {}, min ISR {}, "
          "flush.messages=1, infinite retention)",
          o.topic, o.replication_factor, o.min_insync_replicas);
    } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* why = rd_kafka_topic_result_error_string(results[i]);
      return unexpected("creating topic " + o.topic + ": " + (why ? why : rd_kafka_err2str(err)));
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (true) {
    auto checked = check_existing_topic(admin->get(), o);
    if (checked || checked.error().rfind(kNotYet, 0) != 0) return checked;
    if (Clock::now() > deadline) return unexpected(checked.error().substr(std::strlen(kNotYet)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

ClusterNode::ClusterNode(ClusterOptions options) : options_(std::move(options)) {
  status_.node = options_.node;
}

Expected<std::unique_ptr<ClusterNode>, std::string> ClusterNode::create(ClusterOptions options) {
  if (options.cluster.empty()) return unexpected(std::string("cluster id is empty"));
  if (options.brokers.empty()) return unexpected(std::string("cluster mode needs --kafka-brokers"));
  if (options.topic.empty()) options.topic = "wharf." + options.cluster + ".events";
  if (options.node.empty()) return unexpected(std::string("cluster node name is empty"));
  if (auto topic = ensure_cluster_topic(options); !topic) return unexpected(topic.error());
  return std::unique_ptr<ClusterNode>(new ClusterNode(std::move(options)));
}

ClusterNode::~ClusterNode() {
  stop();
}

std::string ClusterNode::offset_key() const {
  return "cluster.offset/" + options_.topic;
}

Expected<void, std::string> ClusterNode::start(events::EventStore& store, std::string api_address,
                                               std::function<void()> on_leader,
                                               std::function<void(const std::string&)> on_fatal) {
  if (store.head_position() > 0 && !store.get_meta(offset_key())) {
    return unexpected("the store holds " + std::to_string(store.head_position()) +
                      " events that did not come from " + options_.topic +
                      "; a cluster node starts from an empty store or one of that cluster's");
  }
  store_ = &store;
  // The routing table and the epoch continue from the newest barrier this
  // store already holds: a restarted node must neither route to a stale
  // leader nor, leading next, write an epoch that is not the log's next.
  auto last = store.read_stream("cluster-" + options_.cluster, 0, 1, events::Direction::kBackward);
  if (!last) return unexpected("reading the last barrier: " + last.error().message);
  if (!last->empty() && last->front().payload().has_leader_changed()) {
    const auto& barrier = last->front().payload().leader_changed();
    std::lock_guard lock(mu_);
    status_.leader_node = barrier.node();
    status_.leader_api = barrier.api_address();
    status_.epoch = barrier.epoch();
  }
  options_.api_address = std::move(api_address);
  on_leader_ = std::move(on_leader);
  on_fatal_ = std::move(on_fatal);
  replica_ = std::thread([this] { replica_loop(); });
  membership_ = std::thread([this] { membership_loop(); });
  leadership_ = std::thread([this] { leadership_loop(); });
  return {};
}

void ClusterNode::stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (leadership_.joinable()) leadership_.join();
  if (membership_.joinable()) membership_.join();
  if (replica_.joinable()) replica_.join();
  std::lock_guard lock(writer_mu_);
  writer_.reset();
}

ClusterStatus ClusterNode::status() const {
  std::lock_guard lock(mu_);
  ClusterStatus s = status_;
  s.role = role_.load();
  s.applied_position = store_ != nullptr ? store_->head_position() : 0;
  s.lag = std::max<int64_t>(0, s.end_offset - s.offset);
  return s;
}

bool ClusterNode::wait_caught_up(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return caught_up_once_; });
}

bool ClusterNode::accepting(std::string& why) const {
  const auto role = role_.load();
  if (role == ClusterRole::kLeader || barrier_pending_.load()) return true;
  std::lock_guard lock(mu_);
  why = "node " + options_.node + " is " + to_string(role) + ", not the leader" +
        (status_.leader_node.empty()
             ? std::string(" (no leader known)")
             : " (leader: " + status_.leader_node + " at " + status_.leader_api + ")");
  return false;
}

void ClusterNode::fatal(const std::string& why) {
  {
    std::lock_guard lock(mu_);
    if (role_.load() == ClusterRole::kStopped) return;
    role_.store(ClusterRole::kStopped);
    barrier_pending_.store(false);
    status_.stopped = why;
  }
  cv_.notify_all();
  spdlog::error("cluster: node {} stops: {}", options_.node, why);
  if (on_fatal_) on_fatal_(why);
}

// ---------------------------------------------------------------- replica

void ClusterNode::note_applied(const std::vector<std::string>& records) {
  events::Envelope e;
  for (const auto& r : records) {
    if (!e.ParseFromString(r) || !e.payload().has_leader_changed()) continue;
    const auto& barrier = e.payload().leader_changed();
    std::lock_guard lock(mu_);
    if (barrier.epoch() <= status_.epoch) continue;  // a resend already counted
    status_.leader_node = barrier.node();
    status_.leader_api = barrier.api_address();
    status_.epoch = barrier.epoch();
    ++status_.failovers;
    spdlog::info("cluster: leader is {} at {} (epoch {}, position {})", barrier.node(),
                 barrier.api_address(), barrier.epoch(), e.position());
  }
}

void ClusterNode::replica_loop() {
  auto conf = make_conf(with_extra({{"bootstrap.servers", options_.brokers},
                                    {"group.id", "wharf." + options_.cluster + ".replica"},
                                    {"enable.auto.commit", "false"},
                                    {"enable.auto.offset.store", "false"},
                                    {"enable.partition.eof", "true"},
                                    {"isolation.level", "read_committed"},
                                    {"auto.offset.reset", "error"},
                                    {"fetch.wait.max.ms", "20"},
                                    {"socket.nagle.disable", "true"}},
                                   options_.extra),
                        "wharf-cluster-replica-" + options_.node);
  if (!conf) return fatal(conf.error());
  auto consumer = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!consumer) return fatal(consumer.error());
  rd_kafka_t* rk = consumer->get();

  int64_t start = RD_KAFKA_OFFSET_BEGINNING;
  if (auto stored = store_->get_meta(offset_key())) start = std::stoll(*stored);
  {
    std::lock_guard lock(mu_);
    status_.offset = start < 0 ? 0 : start;
  }
  Partitions list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), 0)->offset = start;
  if (auto err = rd_kafka_assign(rk, list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fatal(std::string("replica assign: ") + rd_kafka_err2str(err));
  }
  spdlog::info("cluster: node {} tails {} from offset {} (log head {})", options_.node,
               options_.topic, start < 0 ? 0 : start, store_->head_position());

  std::vector<std::string> values;
  while (!stopping_.load() && role_.load() != ClusterRole::kStopped) {
    values.clear();
    int64_t next_offset = -1;
    bool at_end = false;
    for (int wait = 100; values.size() < 2000; wait = 0) {
      Message msg(rd_kafka_consumer_poll(rk, wait));
      if (!msg) break;
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        at_end = true;
        next_offset = std::max(next_offset, msg->offset);
        break;
      }
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
            msg->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
          return fatal("the stored offset " + std::to_string(start) + " is not in " +
                       options_.topic + " (" + rd_kafka_message_errstr(msg.get()) +
                       "): this store is not a copy of that topic");
        }
        spdlog::debug("cluster replica: {}", rd_kafka_message_errstr(msg.get()));
        continue;
      }
      values.emplace_back(static_cast<const char*>(msg->payload), msg->len);
      next_offset = std::max(next_offset, msg->offset + 1);
    }
    if (!values.empty()) {
      while (true) {
        auto applied =
            store_->apply_replicated(values, {{offset_key(), std::to_string(next_offset)}});
        if (applied) break;
        const auto code = applied.error().code;
        if (code == events::ErrorCode::kClosed || stopping_.load()) return;
        if (code != events::ErrorCode::kNotLeader) {
          return fatal("the log does not verify on this node: " + applied.error().message);
        }
        // A batch of this leader's own failed ahead of it; the store re-stages.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      note_applied(values);
    }
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_get_watermark_offsets(rk, options_.topic.c_str(), 0, &low, &high);
    bool first_catch_up = false;
    {
      std::lock_guard lock(mu_);
      if (next_offset >= 0) status_.offset = std::max(status_.offset, next_offset);
      status_.end_offset = std::max(status_.end_offset, high);
      if (at_end && !caught_up_once_) {
        caught_up_once_ = first_catch_up = true;
        auto expected = ClusterRole::kCatchingUp;
        role_.compare_exchange_strong(expected, ClusterRole::kFollower);
      }
    }
    if (at_end) cv_.notify_all();
    if (first_catch_up) {
      spdlog::info("cluster: node {} caught up at position {} (offset {})", options_.node,
                   store_->head_position(), status().offset);
    }
  }
  rd_kafka_assign(rk, nullptr);
}

// ---------------------------------------------------------------- membership

namespace {

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* notify = static_cast<std::function<bool(bool, bool)>*>(opaque);
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  const std::string topic = partitions->cnt > 0 ? partitions->elems[0].topic : "";
  const bool zero = has_partition_zero(partitions, topic);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      KafkaError e(rd_kafka_incremental_assign(rk, partitions));
      if (e) spdlog::warn("cluster membership: incremental assign: {}", error_text(e.get()));
    } else {
      rd_kafka_assign(rk, partitions);
    }
    rd_kafka_pause_partitions(rk, partitions);  // membership only: never read
    (*notify)(zero, true);
  } else {
    // A node that stops here keeps its assignment until consumer_close:
    // unassigning now would let librdkafka rejoin the group at once as a new
    // member that dies with the process, and the next rebalance would wait a
    // whole session timeout for that ghost before it could move leadership.
    if ((*notify)(zero, false)) return;
    if (cooperative) {
      KafkaError e(rd_kafka_incremental_unassign(rk, partitions));
      if (e) spdlog::warn("cluster membership: incremental unassign: {}", error_text(e.get()));
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}

}  // namespace

namespace {

// Leaves without rejoining: unsubscribed first, then what a stopping node kept
// (on_rebalance leaves it assigned) is given up, then close.
void leave_group(rd_kafka_t* rk) {
  if (auto err = rd_kafka_unsubscribe(rk); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("cluster membership: unsubscribe: {}", rd_kafka_err2str(err));
  }
  rd_kafka_topic_partition_list_t* held = nullptr;
  if (rd_kafka_assignment(rk, &held) == RD_KAFKA_RESP_ERR_NO_ERROR && held != nullptr) {
    Partitions owned(held);
    if (owned->cnt > 0) {
      if (std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE") {
        KafkaError e(rd_kafka_incremental_unassign(rk, owned.get()));
        if (e) spdlog::warn("cluster membership: incremental unassign: {}", error_text(e.get()));
      } else {
        rd_kafka_assign(rk, nullptr);
      }
    }
  }
  rd_kafka_consumer_close(rk);
}

}  // namespace

void ClusterNode::membership_loop() {
  // (partition 0 in the list, assigned?) -> leadership wanted or lost;
  // true when this node stops because of it.
  std::function<bool(bool, bool)> notify = [this](bool zero, bool assigned) {
    if (!zero) return false;
    assigned_.store(assigned);
    spdlog::info("cluster: node {} {} the events partition", options_.node,
                 assigned ? "was assigned" : "lost");
    const auto role = role_.load();
    if (!assigned && !stopping_.load() &&
        (role == ClusterRole::kLeader || role == ClusterRole::kElecting)) {
      fatal("the group revoked this node's leadership (session lost or rebalanced)");
      return true;
    }
    cv_.notify_all();
    return false;
  };
  // max.poll.interval.ms is also the rebalance timeout: how long a rebalance
  // waits for a member that does not rejoin (a paused leader). The membership
  // thread polls every 200 ms, so a live node never comes near it.
  auto conf =
      make_conf(with_extra({{"bootstrap.servers", options_.brokers},
                            {"group.id", "wharf." + options_.cluster + ".members"},
                            {"partition.assignment.strategy", "cooperative-sticky"},
                            {"session.timeout.ms", std::to_string(options_.session_timeout_ms)},
                            {"heartbeat.interval.ms", std::to_string(heartbeat_interval_ms())},
                            {"max.poll.interval.ms", std::to_string(options_.session_timeout_ms)},
                            {"enable.auto.commit", "false"},
                            {"auto.offset.reset", "latest"},
                            {"socket.nagle.disable", "true"}},
                           options_.extra),
                "wharf-cluster-member-" + options_.node);
  if (!conf) return fatal(conf.error());
  rd_kafka_conf_set_rebalance_cb(conf->get(), on_rebalance);
  rd_kafka_conf_set_opaque(conf->get(), &notify);
  auto consumer = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!consumer) return fatal(consumer.error());
  rd_kafka_t* rk = consumer->get();
  Partitions topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(rk, topics.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fatal(std::string("membership subscribe: ") + rd_kafka_err2str(err));
  }
  last_poll_ms_.store(now_ms());
  while (!stopping_.load() && role_.load() != ClusterRole::kStopped) {
    // A leader that was paused (SIGSTOP, a long GC-like stall) past the
    // session timeout must assume another node leads now: librdkafka may
    // take a minute to report the lost session, and Kafka fences the writer
    // anyway, but nothing of this term should run a moment longer.
    if (check_paused()) break;
    Message msg(rd_kafka_consumer_poll(rk, 200));
    last_poll_ms_.store(now_ms());
    if (msg && msg->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
        msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::debug("cluster membership: {}", rd_kafka_message_errstr(msg.get()));
    }
  }
  leave_group(rk);
}

// ---------------------------------------------------------------- leadership

Expected<KafkaHandle, std::string> ClusterNode::new_writer() {
  auto conf = make_conf(
      with_extra({{"bootstrap.servers", options_.brokers},
                  {"transactional.id", "wharf." + options_.cluster + ".writer"},
                  {"transaction.timeout.ms", std::to_string(options_.transaction_timeout_ms)},
                  {"message.timeout.ms", std::to_string(options_.transaction_timeout_ms - 1000)},
                  {"enable.idempotence", "true"},
                  {"acks", "all"},
                  {"linger.ms", "1"},
                  {"socket.nagle.disable", "true"}},
                 options_.extra),
      "wharf-cluster-writer-" + options_.node);
  if (!conf) return unexpected(conf.error());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
  auto producer = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!producer) return unexpected(producer.error());
  // Fences every older producer of this transactional.id and ends (aborts or
  // completes) its open transaction. Retried while this node should lead.
  while (!stopping_.load() && assigned_.load()) {
    KafkaError e(rd_kafka_init_transactions(producer->get(), 5000));
    if (!e) return std::move(*producer);
    if (rd_kafka_error_is_fatal(e.get()) || !rd_kafka_error_is_retriable(e.get())) {
      return unexpected("init_transactions: " + error_text(e.get()));
    }
    spdlog::info("cluster: init_transactions: {} (retrying)", error_text(e.get()));
  }
  return unexpected(std::string("leadership ended during init_transactions"));
}

bool ClusterNode::become_leader() {
  spdlog::info("cluster: node {} takes the writer (fencing the previous leader)", options_.node);
  {
    std::lock_guard lock(writer_mu_);
    auto writer = new_writer();
    if (!writer) {
      if (!stopping_.load() && assigned_.load()) fatal(writer.error());
      return false;
    }
    writer_ = std::move(*writer);
  }
  // Read to the end: everything the previous leader committed is applied
  // before this node decides anything.
  int64_t low = 0;
  int64_t high = 0;
  while (!stopping_.load() && assigned_.load()) {
    rd_kafka_t* rk = nullptr;
    {
      std::lock_guard lock(writer_mu_);
      rk = writer_.get();
    }
    auto err = rd_kafka_query_watermark_offsets(rk, options_.topic.c_str(), 0, &low, &high, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    spdlog::info("cluster: end of {}: {} (retrying)", options_.topic, rd_kafka_err2str(err));
  }
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] {
      return stopping_.load() || !assigned_.load() || role_.load() == ClusterRole::kStopped ||
             status_.offset >= high;
    });
    if (status_.offset < high) return false;
  }
  wharf::v1::LeaderChanged barrier;
  barrier.set_cluster(options_.cluster);
  barrier.set_node(options_.node);
  barrier.set_api_address(options_.api_address);
  {
    // One barrier per epoch in the barrier stream: its version is the last
    // epoch, whatever this process saw since it started.
    const uint64_t barriers = store_->stream_version("cluster-" + options_.cluster);
    std::lock_guard lock(mu_);
    barrier.set_epoch(std::max(status_.epoch, barriers) + 1);
  }
  barrier.set_after_position(store_->head_position());
  events::Envelope e;
  e.set_event_id(events::new_uuid());
  e.set_occurred_at_us(std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
  e.mutable_actor()->set_id("cluster:" + options_.node);
  e.mutable_actor()->set_channel(wharf::v1::CHANNEL_SYSTEM);
  *e.mutable_payload()->mutable_leader_changed() = barrier;
  barrier_pending_.store(true);
  auto appended =
      store_->append("cluster-" + options_.cluster, events::ExpectedVersion::any(), {e});
  barrier_pending_.store(false);
  if (!appended) {
    fatal("the leader barrier did not commit: " + appended.error().message);
    return false;
  }
  auto electing = ClusterRole::kElecting;
  if (!role_.compare_exchange_strong(electing, ClusterRole::kLeader)) return false;
  spdlog::info("cluster: node {} leads (epoch {}, barrier at position {})", options_.node,
               barrier.epoch(), appended->first_position);
  cv_.notify_all();
  if (on_leader_) on_leader_();
  return true;
}

void ClusterNode::leadership_loop() {
  while (!stopping_.load()) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500), [&] {
        return stopping_.load() || role_.load() == ClusterRole::kStopped ||
               (assigned_.load() && caught_up_once_ && role_.load() == ClusterRole::kFollower);
      });
      if (stopping_.load() || role_.load() == ClusterRole::kStopped) return;
      if (!(assigned_.load() && caught_up_once_ && role_.load() == ClusterRole::kFollower))
        continue;
      role_.store(ClusterRole::kElecting);
    }
    if (!become_leader()) {
      auto electing = ClusterRole::kElecting;
      role_.compare_exchange_strong(electing, ClusterRole::kFollower);
    }
  }
}

int ClusterNode::heartbeat_interval_ms() const {
  if (options_.heartbeat_interval_ms > 0) return options_.heartbeat_interval_ms;
  return std::max(500, options_.session_timeout_ms / 10);
}

int64_t ClusterNode::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

bool ClusterNode::check_paused() {
  const int64_t silent = now_ms() - last_poll_ms_.load();
  const auto role = role_.load();
  if (silent <= options_.session_timeout_ms ||
      (role != ClusterRole::kLeader && role != ClusterRole::kElecting)) {
    return false;
  }
  fatal("this node was paused for " + std::to_string(silent) +
        " ms, longer than the session timeout: another node may lead now");
  return true;
}

Expected<events::ReplicationGate::Meta, std::string> ClusterNode::publish(
    uint64_t first_position, const std::vector<std::string>& records) {
  if (check_paused()) return unexpected(std::string("this node was paused; it stops leading"));
  std::lock_guard lock(writer_mu_);
  const auto role = role_.load();
  if (!writer_ || (role != ClusterRole::kLeader && !barrier_pending_.load())) {
    return unexpected("node " + options_.node + " no longer leads");
  }
  rd_kafka_t* rk = writer_.get();
  int64_t from_offset = 0;
  {
    std::lock_guard status_lock(mu_);
    from_offset = status_.offset;
  }
  const auto started = Clock::now();
  if (KafkaError e(rd_kafka_begin_transaction(rk)); e) {
    std::string why = "begin_transaction: " + error_text(e.get());
    fatal(why);
    return unexpected(why);
  }
  std::atomic<int64_t> last_offset{-1};
  events::Envelope ev;
  for (size_t i = 0; i < records.size(); ++i) {
    ev.ParseFromString(records[i]);
    const std::string key = project_key(ev);
    const std::string position = std::to_string(first_position + i);
    while (true) {
      auto err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_PARTITION(0),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(records[i].data()), records[i].size()),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_HEADER(kHeaderEventId, ev.event_id().data(),
                            static_cast<ssize_t>(ev.event_id().size())),
          RD_KAFKA_V_HEADER(kHeaderType, ev.type().data(), static_cast<ssize_t>(ev.type().size())),
          RD_KAFKA_V_HEADER(kHeaderPosition, position.data(),
                            static_cast<ssize_t>(position.size())),
          RD_KAFKA_V_HEADER(kHeaderSchemaVersion, kSchemaVersion, -1),
          RD_KAFKA_V_OPAQUE(&last_offset), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
        continue;
      }
      std::string why = std::string("produce: ") + rd_kafka_err2str(err);
      if (KafkaError abort(rd_kafka_abort_transaction(rk, -1)); abort) {
        why += "; abort: " + error_text(abort.get());
        fatal(why);
      }
      return unexpected(why);
    }
  }
  KafkaError e(rd_kafka_commit_transaction(rk, -1));
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (!e) {
    std::lock_guard status_lock(mu_);
    ++status_.transactions;
    status_.last_commit_ms = ms;
    Meta meta;
    if (last_offset.load() >= 0) meta.emplace_back(offset_key(), std::to_string(last_offset + 1));
    return meta;
  }
  const std::string what =
      "commit of positions " + std::to_string(first_position) + "..: " + error_text(e.get());
  if (rd_kafka_error_txn_requires_abort(e.get())) {
    KafkaError abort(rd_kafka_abort_transaction(rk, -1));
    if (abort) fatal(what + "; abort: " + error_text(abort.get()));
    return unexpected(what + " (aborted; nothing of it is in the log)");
  }
  if (rd_kafka_error_is_fatal(e.get())) {
    const auto code = rd_kafka_error_code(e.get());
    if (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
        code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED) {
      std::lock_guard status_lock(mu_);
      ++status_.fencing_errors;
    }
    fatal(what);
    return unexpected(what);
  }
  // Indefinite: the commit may or may not have happened. Re-initialize (the
  // epoch bump ends the transaction one way or the other) and answer from
  // what the log holds.
  {
    std::lock_guard status_lock(mu_);
    ++status_.indefinite_commits;
  }
  spdlog::warn("cluster: {}: outcome unknown; re-initializing the writer and reading the log",
               what);
  auto found = resolve_indefinite(first_position, records, from_offset);
  if (!found) {
    fatal(what + "; resolving it failed: " + found.error());
    return unexpected(what + "; outcome unknown (retry with the same event ids)");
  }
  if (*found) return Meta{};
  return unexpected(what + " (not in the log after re-initialization)");
}

Expected<bool, std::string> ClusterNode::resolve_indefinite(uint64_t first_position,
                                                            const std::vector<std::string>& records,
                                                            int64_t from_offset) {
  writer_.reset();
  auto writer = new_writer();
  if (!writer) return unexpected(writer.error());
  writer_ = std::move(*writer);
  size_t matched = 0;
  bool mismatch = false;
  auto scanned = scan_committed(options_, from_offset, [&](rd_kafka_message_t* msg) {
    const uint64_t position = record_position(msg);
    if (position < first_position || position >= first_position + records.size()) return;
    const std::string value(static_cast<const char*>(msg->payload), msg->len);
    if (value == records[position - first_position]) {
      ++matched;
    } else {
      mismatch = true;
    }
  });
  if (!scanned) return unexpected(scanned.error());
  if (mismatch) return unexpected(std::string("another writer's events hold those positions"));
  if (matched != 0 && matched != records.size()) {
    return unexpected("only " + std::to_string(matched) + " of " + std::to_string(records.size()) +
                      " events of the transaction are in the log (torn)");
  }
  spdlog::warn("cluster: positions {}..{} are {}in the log", first_position,
               first_position + records.size() - 1, matched == 0 ? "not " : "");
  return matched == records.size();
}

}  // namespace wharf::kafka
