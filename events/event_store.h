#pragma once
// The wharf event log: an append-only, hash-chained sequence of Envelopes in
// RocksDB. Public face only; the machinery lives in event_store.cc.
// Key layout: docs/storage.md.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "events/expected.h"
#include "wharf/v1/envelope.pb.h"

namespace google::protobuf {
class Arena;
}

namespace rocksdb {
class Env;
}

namespace wharf::events {

using Envelope = wharf::v1::Envelope;

// What an append expects the stream's current version to be.
struct ExpectedVersion {
  enum class Kind { kAny, kNoStream, kExact };
  Kind kind = Kind::kAny;
  uint64_t version = 0;  // for kExact: the version of the stream's last event

  static ExpectedVersion any() { return {Kind::kAny, 0}; }
  static ExpectedVersion no_stream() { return {Kind::kNoStream, 0}; }
  static ExpectedVersion exact(uint64_t v) { return {Kind::kExact, v}; }
};

enum class ErrorCode {
  kConflict,         // expected version does not match (stream, expected, actual set)
  kEventIdConflict,  // an event id exists with different content (event_id set)
  kInvalidArgument,  // empty stream id, missing event id or payload, bad stream name
  kIo,               // RocksDB write/read failed; nothing of the append was written
  kCorruption,       // a stored record does not decode or the chain does not link
  kNotFound,
  kClosed,  // the store is shutting down
  // Cluster mode (docs/cluster.md): this node does not lead, or stopped
  // leading before the events reached Kafka; nothing of the append was written.
  kNotLeader,
};

struct Error {
  ErrorCode code = ErrorCode::kIo;
  std::string message;  // human-readable, names stream/positions involved
  std::string stream;
  uint64_t expected_version = 0;
  uint64_t actual_version = 0;
  std::string event_id;
  uint64_t position = 0;
};

const char* to_string(ErrorCode code);

// Result of a successful append. When every event was already present
// (idempotent replay), `already_present` is true and the positions are the
// original ones; nothing was written.
struct AppendResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t stream_version = 0;  // version of the stream after the append
  bool already_present = false;
};

// Cluster mode (docs/cluster.md): the store of every node is a verified copy
// of the Kafka log. The gate decides whether this node may append (it leads)
// and publishes each group commit of new events to Kafka before the store
// writes it; the batch is acknowledged only after publish() succeeded.
class ReplicationGate {
 public:
  using Meta = std::vector<std::pair<std::string, std::string>>;
  virtual ~ReplicationGate() = default;
  // False (with the reason) while this node must not append.
  virtual bool accepting(std::string& why) const = 0;
  // Runs on the store's committer thread with the stored bytes of the new
  // events of one batch, positions first_position.. in order. Returns meta
  // (put_meta keys and values) written in the same RocksDB batch, or why the
  // events are not in the log; then nothing of the batch is written, it fails
  // with kNotLeader, and the store re-stages from its durable head.
  virtual Expected<Meta, std::string> publish(uint64_t first_position,
                                              const std::vector<std::string>& records) = 0;
};

struct StoreOptions {
  bool sync = true;  // fsync each group commit; tests and benches may turn off
  bool create_if_missing = true;
  size_t max_batch_events = 4096;  // upper bound on events in one group commit
  // Open beside a running writer (e.g. `wharf serve`) without taking its lock:
  // a RocksDB secondary instance that catches up with the primary whenever a
  // reader reaches the head or waits in wait_for_head_beyond. Appends and
  // put_meta then fail with kInvalidArgument. The store must exist.
  bool read_only = false;
  // Tests only: a RocksDB Env (e.g. one that injects write failures). Not owned.
  rocksdb::Env* env = nullptr;
  // Benchmarks only: false stores events without prev_hash/hash so the cost of
  // the chain can be measured; such a store fails `audit verify`.
  bool compute_hash_chain = true;
  // Cluster mode: appends go through this gate (not owned; outlives the store).
  ReplicationGate* gate = nullptr;
};

enum class Direction { kForward, kBackward };

// Events decoded into one protobuf arena: no heap allocation per event and one
// release for the whole batch, which is what replays of millions need.
class EventBatch {
 public:
  EventBatch();
  EventBatch(EventBatch&&) noexcept;
  EventBatch& operator=(EventBatch&&) noexcept;
  ~EventBatch();
  // A new empty event owned by the batch, appended at its end.
  Envelope* add();
  const std::vector<const Envelope*>& events() const { return events_; }
  bool empty() const { return events_.empty(); }
  size_t size() const { return events_.size(); }
  const Envelope& back() const { return *events_.back(); }

 private:
  std::unique_ptr<google::protobuf::Arena> arena_;
  std::vector<const Envelope*> events_;
};

class EventStore {
 public:
  // Opens or creates the store in `dir`. A directory that is not a wharf store
  // (foreign RocksDB, unrelated files) or whose data is corrupt fails with a
  // clear error; nothing is ever truncated to make it open.
  static Expected<std::unique_ptr<EventStore>, Error> open(const std::string& dir,
                                                           StoreOptions options = {});
  virtual ~EventStore() = default;

  // Appends `events` to `stream` atomically. Each event must carry event_id,
  // payload; type, stream, position, stream_version, recorded_at, prev_hash and
  // hash are assigned here. Returns only after the group commit holding these
  // events is durable (synced). Concurrent callers share one WriteBatch.
  //  - conflict when `expected` does not match the stream's version;
  //  - idempotent: if every event id already exists with the same content the
  //    original positions are returned; a known id with different content, or
  //    a mix of known and new ids, is kEventIdConflict.
  virtual Expected<AppendResult, Error> append(const std::string& stream, ExpectedVersion expected,
                                               std::vector<Envelope> events) = 0;

  // append() without waiting: `done` gets the same result once the group
  // commit holding these events is durable (or the append failed). It runs on
  // the store's writer thread - keep it short, do not append from it - or
  // inline when the append is refused before it is queued. One thread can so
  // queue many appends (of different streams) that share one fsync. Appends
  // queued by one thread are staged in that order. The default calls append().
  using AppendDone = std::function<void(Expected<AppendResult, Error>)>;
  virtual void append_async(const std::string& stream, ExpectedVersion expected,
                            std::vector<Envelope> events, AppendDone done);

  // Reads up to `max_count` events of `stream` starting at stream version
  // `from_version` (inclusive) in `direction`. For kBackward, from_version 0
  // means "from the end".
  virtual Expected<std::vector<Envelope>, Error> read_stream(const std::string& stream,
                                                             uint64_t from_version,
                                                             size_t max_count,
                                                             Direction direction) const = 0;

  // Reads up to `max_count` events with global position >= `from_position`,
  // never past the last durable position.
  virtual Expected<std::vector<Envelope>, Error> read_all(uint64_t from_position,
                                                          size_t max_count) const = 0;

  // read_all into one arena (EventBatch): for replays that fold and drop batches.
  virtual Expected<EventBatch, Error> read_batch(uint64_t from_position, size_t max_count) const;

  // Calls `visit` for each durable event with from_position <= position <=
  // to_position (0 = head) in order, reusing one Envelope; stops early when
  // `visit` returns false. Returns the last position visited (0 if none).
  // Cheaper than read_all for replays: no vector, no per-event allocation.
  virtual Expected<uint64_t, Error> scan(uint64_t from_position, uint64_t to_position,
                                         const std::function<bool(const Envelope&)>& visit) const;

  // Cluster mode: appends events read from the log's source of truth (their
  // stored bytes, with positions and hashes). Each must continue the chain:
  // the next position, prev_hash = the current head's hash, a hash that
  // matches its content, the next version of its stream, a new event id.
  // Events at or below the head must be identical to the stored ones and are
  // skipped. `meta` is written in the same batch when anything new is written.
  // A record that breaks any of these is kCorruption and the store stops
  // (refuses every later write) - a copy that cannot verify must not serve.
  virtual Expected<AppendResult, Error> apply_replicated(std::vector<std::string> records,
                                                         ReplicationGate::Meta meta);

  // The event with this id, if any.
  virtual Expected<Envelope, Error> read_event(const std::string& event_id) const = 0;

  // Version of the stream's last event; 0 if the stream does not exist.
  virtual uint64_t stream_version(const std::string& stream) const = 0;

  // Last durable (acknowledged) global position; 0 on an empty store.
  virtual uint64_t head_position() const = 0;
  // Hash of the event at head_position (32 zero bytes on an empty store).
  virtual std::string head_hash() const = 0;
  // Random id given to the store when created; names it in exports.
  virtual std::string store_id() const = 0;

  // Blocks until head_position() > `position` or the deadline passes or the
  // store closes. Returns head_position() at return.
  virtual uint64_t wait_for_head_beyond(uint64_t position,
                                        std::chrono::steady_clock::time_point deadline) const = 0;

  // Metadata key/value (CF "meta"): cursors and checkpoints of components that
  // live beside the log, e.g. the Kafka relay's cursor. Writes are synced.
  virtual Expected<void, Error> put_meta(const std::string& key, const std::string& value) = 0;
  virtual Expected<std::string, Error> get_meta(const std::string& key) const = 0;  // kNotFound

  // Stops accepting appends, fails pending ones with kClosed, wakes waiters.
  virtual void close() = 0;
};

// Delivers every event from `from_position` on, history first, then live
// events as they become durable, in position order, with no gap and no
// duplicate at the switch. The handler runs on the subscription's own thread;
// returning false stops it. Destruction stops and joins.
class Subscription {
 public:
  using Handler = std::function<bool(const Envelope&)>;
  Subscription(const EventStore& store, uint64_t from_position, Handler handler);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  void stop();
  // Position of the last event handed to the handler (0 before any).
  uint64_t last_delivered() const;
  // Set when reading the log failed; the subscription has then stopped.
  std::string error() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Name of the payload's message ("DeploySucceeded"), empty if none is set.
std::string payload_type(const wharf::v1::Payload& payload);

}  // namespace wharf::events
