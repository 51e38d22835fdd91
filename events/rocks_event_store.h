#pragma once
// Internal to events/: the RocksDB implementation of EventStore. Shared by
// event_store.cc (open, reads, meta) and group_commit.cc (the writer).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "events/event_store.h"

namespace wharf::events::internal {

inline Unexpected<Error> fail(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return unexpected(std::move(e));
}

inline ErrorCode code_of(const rocksdb::Status& s) {
  return s.IsCorruption() ? ErrorCode::kCorruption : ErrorCode::kIo;
}

inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline bool has_stream_prefix(const rocksdb::Slice& key, const std::string& prefix) {
  return key.size() == prefix.size() + 8 && key.starts_with(prefix);
}

// Appends the wire encoding of bytes field `field` holding a 32-byte digest.
inline void append_digest_field(std::string& out, int field, const std::string& digest) {
  out.push_back(static_cast<char>((field << 3) | 2));
  out.push_back(static_cast<char>(digest.size()));
  out.append(digest);
}

constexpr int kPrevHashField = wharf::v1::Envelope::kPrevHashFieldNumber;
constexpr int kHashField = wharf::v1::Envelope::kHashFieldNumber;

// One caller's append waiting for the writer thread.
struct PendingAppend {
  std::string stream;
  ExpectedVersion expected;
  std::vector<Envelope> events;      // normalized: store-assigned fields cleared
  std::vector<std::string> digests;  // SHA-256 of each event's caller content
  EventStore::AppendDone done;       // called once, by whoever answers the append
  // apply_replicated: stored records from the cluster's log, verified and
  // written as they are (events/stream/expected unused), and meta to write
  // with them.
  bool replicated = false;
  std::vector<std::string> records;
  ReplicationGate::Meta meta;
};

// An event id staged by a batch that is not yet durable.
struct StagedId {
  uint64_t position = 0;
  std::string digest;
  uint64_t batch = 0;  // sequence number of the staging batch
};

// A group commit on its way from the sequencer to the committer.
struct StagedBatch {
  struct Outcome {
    std::unique_ptr<PendingAppend> append;
    std::optional<Expected<AppendResult, Error>> result;  // what to answer if the write succeeds
  };
  uint64_t seq = 0;
  rocksdb::WriteBatch write;
  std::vector<Outcome> outcomes;  // in queue order
  uint64_t first_position = 0;
  uint64_t last_position = 0;  // < first_position when nothing was staged
  std::string last_hash;
  bool replicated = false;           // a batch of apply_replicated records only
  std::vector<std::string> records;  // with a gate: stored bytes of the new events
};

class RocksEventStore final : public EventStore {
 public:
  RocksEventStore(std::string dir, StoreOptions options)
      : dir_(std::move(dir)), options_(options) {}
  ~RocksEventStore() override;

  Expected<void, Error> open_db();

  Expected<AppendResult, Error> append(const std::string& stream, ExpectedVersion expected,
                                       std::vector<Envelope> events) override;
  void append_async(const std::string& stream, ExpectedVersion expected,
                    std::vector<Envelope> events, AppendDone done) override;
  Expected<std::vector<Envelope>, Error> read_stream(const std::string& stream,
                                                     uint64_t from_version, size_t max_count,
                                                     Direction direction) const override;
  Expected<std::vector<Envelope>, Error> read_all(uint64_t from_position,
                                                  size_t max_count) const override;
  Expected<uint64_t, Error> scan(uint64_t from_position, uint64_t to_position,
                                 const std::function<bool(const Envelope&)>& visit) const override;
  Expected<EventBatch, Error> read_batch(uint64_t from_position, size_t max_count) const override;
  Expected<AppendResult, Error> apply_replicated(std::vector<std::string> records,
                                                 ReplicationGate::Meta meta) override;
  Expected<Envelope, Error> read_event(const std::string& event_id) const override;
  uint64_t stream_version(const std::string& stream) const override;
  uint64_t head_position() const override { return head_position_.load(std::memory_order_acquire); }
  std::string head_hash() const override {
    std::lock_guard lock(head_mu_);
    return head_hash_;
  }
  std::string store_id() const override { return store_id_; }
  uint64_t wait_for_head_beyond(uint64_t position,
                                std::chrono::steady_clock::time_point deadline) const override;
  Expected<void, Error> put_meta(const std::string& key, const std::string& value) override;
  Expected<std::string, Error> get_meta(const std::string& key) const override;
  void close() override;

 private:
  // Calls `visit(position, stored bytes)` for each durable event in
  // [from_position, to_position (0 = head)] until it returns false; the
  // last position visited, 0 if none.
  Expected<uint64_t, Error> scan_records(
      uint64_t from_position, uint64_t to_position,
      const std::function<bool(uint64_t, std::string_view)>& visit) const;
  rocksdb::ColumnFamilyHandle* log_cf() const { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* streams_cf() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* ids_cf() const { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* meta_cf() const { return handles_[3]; }

  Expected<void, Error> load_head();
  // Read-only mode: catch up with the primary and reload the head.
  void refresh() const;
  Expected<Envelope, Error> read_position(uint64_t position) const;
  // Latest version of `stream` written to RocksDB (durable or being written).
  uint64_t stored_stream_version(const std::string& stream) const;

  // group_commit.cc
  void start_writer();
  void sequencer_loop();
  std::unique_ptr<StagedBatch> stage(std::vector<std::unique_ptr<PendingAppend>>& appends);
  // Validates and normalizes one append; nullopt when it is refused up front.
  std::optional<Error> prepare(PendingAppend& pending, const std::string& stream,
                               ExpectedVersion expected, std::vector<Envelope> events);
  // Queues a prepared append for the sequencer (false: the store is closed).
  bool enqueue(std::unique_ptr<PendingAppend>& pending);
  void committer_loop();
  void commit(StagedBatch& batch);
  uint64_t staged_stream_version(const std::string& stream);
  // Stages verified replicated records; an error stops the store.
  Expected<AppendResult, Error> stage_replicated(PendingAppend& p, StagedBatch& batch,
                                                 uint64_t& next_position, std::string& prev_hash);
  // Where an event id is, among staged ids and then RocksDB (0 = unknown).
  Expected<uint64_t, Error> known_position(const std::string& event_id);
  // After a gate failure: waits for the committer to finish and forgets what
  // was staged beyond the durable head.
  void restage_from_head();
  void stop_store(const std::string& why);
  std::string write_failure() const;

  const std::string dir_;
  const StoreOptions options_;
  std::string secondary_dir_;  // read-only mode: the secondary instance's own files
  mutable std::mutex refresh_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // log, streams, event_ids, meta, others
  std::string store_id_;

  mutable std::atomic<uint64_t> head_position_{0};
  mutable std::mutex head_mu_;
  mutable std::condition_variable head_cv_;
  mutable std::string head_hash_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<PendingAppend>> queue_;
  size_t queued_events_ = 0;  // events in queue_
  // Below this many queued events the sequencer waits for the committer to
  // go idle instead of staging a small batch that would need its own fsync.
  static constexpr size_t kPipelineMinEvents = 64;
  // With a ReplicationGate (cluster mode) a batch is one Kafka transaction,
  // tens of ms or more: when the committer goes idle the sequencer waits
  // this long for more local appends before staging (see sequencer_loop).
  static constexpr std::chrono::milliseconds kGateLinger{5};
  std::atomic<bool> closed_{false};
  std::thread writer_;           // the sequencer; it owns the committer thread
  bool writer_started_ = false;  // open succeeded in writable mode
  std::once_flag close_once_;

  // Sequencer state: positions, hashes and versions as staged, which may be
  // one batch ahead of what is durable.
  uint64_t staged_position_ = 0;
  std::string staged_hash_;
  int64_t last_recorded_at_us_ = 0;
  uint64_t staged_seq_ = 0;
  std::unordered_map<std::string, uint64_t> version_cache_;  // stream -> version incl. staged
  std::unordered_map<std::string, StagedId> staged_ids_;     // ids not yet known durable
  std::deque<std::pair<uint64_t, std::vector<std::string>>> staged_ids_by_batch_;

  // Hand-off: at most one batch waits while the committer writes another.
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::unique_ptr<StagedBatch> ready_;
  bool committer_stop_ = false;
  std::thread committer_;
  std::atomic<uint64_t> committed_seq_{0};
  std::atomic<bool> committer_busy_{false};  // a batch is handed off and not yet committed

  // Set by the committer when a write fails; the store then refuses appends.
  mutable std::mutex failure_mu_;
  std::string write_failure_;
  std::atomic<bool> failed_{false};

  // Cluster mode: set by the committer when the gate refused a batch; every
  // batch handed off before the sequencer re-staged fails the same way.
  std::atomic<bool> gate_failed_{false};
  std::string gate_failure_;  // guarded by failure_mu_
  // Hashes of staged events not yet durable (gate only), to check a
  // replicated copy of the leader's own in-flight events.
  std::map<uint64_t, std::string> in_flight_hashes_;
};

}  // namespace wharf::events::internal
