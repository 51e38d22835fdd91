#pragma once
// Cluster mode (docs/cluster.md): Kafka is the source of truth and each node's
// RocksDB store a verified copy. One ClusterNode per `wharf serve --cluster`:
//
//  - membership: a consumer group on the events topic (cooperative-sticky),
//    used only to pick the leader - the member assigned partition 0;
//  - leading: a transactional producer with the fixed transactional.id
//    `wharf.<cluster>.writer`; init_transactions() fences the previous
//    leader, the node reads the topic to its end, commits a LeaderChanged
//    barrier, and only then counts as leader. Each group commit of the store
//    is one Kafka transaction (ReplicationGate::publish) and is acknowledged
//    only after the transaction committed;
//  - replica: every node tails the topic (read_committed, manual assignment)
//    and applies the records with EventStore::apply_replicated, which
//    verifies chain, positions, versions and ids, storing the next offset in
//    the same RocksDB batch.
//
// A node that stops leading (revoked, fenced, fatal producer error) or finds
// a record that does not verify calls on_fatal: it must exit, so that no side
// effect of its term survives; its supervisor restarts it as a follower.
//
//   auto node = ClusterNode::create(options);          // checks/creates the topic
//   store_options.gate = node->get();                  // the store asks it
//   auto store = EventStore::open(dir, store_options);
//   node->start(*store, on_leader, on_fatal);
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/kafka/kafka_client.h"
#include "events/event_store.h"

namespace wharf::kafka {

struct ClusterOptions {
  std::string cluster;      // --cluster id: names the group, transactional.id, topic
  std::string brokers;      // bootstrap servers
  std::string topic;        // empty = "wharf.<cluster>.events"
  std::string node;         // this node's name (in LeaderChanged)
  std::string api_address;  // where other nodes send this node's commands
  int session_timeout_ms = 6000;
  // 0: a tenth of the session timeout (at least 500 ms). The survivors learn
  // of a rebalance at their next heartbeat, so this bounds part of a failover.
  int heartbeat_interval_ms = 0;
  int transaction_timeout_ms = 10000;
  // Topic settings wharf creates the topic with and requires of an existing one.
  int replication_factor = 3;
  int min_insync_replicas = 2;
  Properties extra;  // applied last to every client (TLS/SASL)
};

// Creates the events topic (1 partition, the replication factor, min ISR,
// flush.messages=1, infinite retention, no unclean election), or checks an
// existing one and fails naming the first setting that is weaker.
Expected<void, std::string> ensure_cluster_topic(const ClusterOptions& options);

enum class ClusterRole { kCatchingUp, kFollower, kElecting, kLeader, kStopped };
const char* to_string(ClusterRole role);

struct ClusterStatus {
  ClusterRole role = ClusterRole::kCatchingUp;
  std::string node;
  std::string leader_node;  // from the newest LeaderChanged applied (empty: none yet)
  std::string leader_api;
  uint64_t epoch = 0;  // of that barrier
  uint64_t applied_position = 0;
  int64_t offset = 0;               // next offset the replica reads
  int64_t end_offset = 0;           // high watermark last seen
  int64_t lag = 0;                  // end_offset - offset (records incl. markers)
  uint64_t failovers = 0;           // LeaderChanged events applied by this node
  uint64_t fencing_errors = 0;      // this node's writer found itself fenced
  uint64_t transactions = 0;        // committed by this node's writer
  uint64_t indefinite_commits = 0;  // commit outcomes resolved by re-reading the log
  double last_commit_ms = 0;        // duration of the last transaction commit
  std::string stopped;              // why the node stopped (role kStopped)
};

class ClusterNode final : public events::ReplicationGate {
 public:
  static Expected<std::unique_ptr<ClusterNode>, std::string> create(ClusterOptions options);
  ~ClusterNode() override;  // stop()
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Starts tailing and joins the group. `on_leader` runs once, on a node
  // thread, after this node's barrier committed; `on_fatal` when the node
  // must exit (it should not block).
  // `api_address` is what the barrier advertises (known once the HTTP
  // server is bound).
  Expected<void, std::string> start(events::EventStore& store, std::string api_address,
                                    std::function<void()> on_leader,
                                    std::function<void(const std::string&)> on_fatal);
  void stop();

  // True once this node's barrier committed and until it stops.
  bool leading() const { return role_.load() == ClusterRole::kLeader; }
  ClusterStatus status() const;
  // Blocks until the replica has read the topic to its end once (or timeout).
  bool wait_caught_up(std::chrono::milliseconds timeout) const;
  const std::string& topic() const { return options_.topic; }

  // events::ReplicationGate
  bool accepting(std::string& why) const override;
  Expected<Meta, std::string> publish(uint64_t first_position,
                                      const std::vector<std::string>& records) override;

 private:
  explicit ClusterNode(ClusterOptions options);
  void replica_loop();
  void membership_loop();
  void leadership_loop();
  bool become_leader();
  Expected<KafkaHandle, std::string> new_writer();
  Expected<bool, std::string> resolve_indefinite(uint64_t first_position,
                                                 const std::vector<std::string>& records,
                                                 int64_t from_offset);
  void fatal(const std::string& why);
  // Leading, and the membership thread has not polled for longer than the
  // session timeout (the process was paused): stops the node.
  bool check_paused();
  int heartbeat_interval_ms() const;
  static int64_t now_ms();
  void note_applied(const std::vector<std::string>& records);
  std::string offset_key() const;

  ClusterOptions options_;
  events::EventStore* store_ = nullptr;
  std::function<void()> on_leader_;
  std::function<void(const std::string&)> on_fatal_;

  std::atomic<bool> stopping_{false};
  std::atomic<ClusterRole> role_{ClusterRole::kCatchingUp};
  std::atomic<bool> assigned_{false};         // the group gave us partition 0
  std::atomic<bool> barrier_pending_{false};  // writer ready, barrier not yet committed
  std::atomic<int64_t> last_poll_ms_{0};      // steady clock of the last membership poll
  std::thread replica_;
  std::thread membership_;
  std::thread leadership_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  ClusterStatus status_;  // guarded by mu_ (role kept in role_)
  bool caught_up_once_ = false;

  std::mutex writer_mu_;  // the producer: publish() and leadership
  KafkaHandle writer_;
};

}  // namespace wharf::kafka
