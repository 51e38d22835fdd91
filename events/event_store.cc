// RocksDB implementation of EventStore: one writer thread performs group
// commits (validate, assign dense positions, hash-chain, one synced
// WriteBatch, then acknowledge). Layout: events/keys.h, docs/storage.md.
#include "events/event_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "events/hash_chain.h"
#include "events/ids.h"
#include "events/keys.h"

namespace wharf::events {
namespace {

namespace fs = std::filesystem;

Unexpected<Error> fail(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return unexpected(std::move(e));
}

ErrorCode code_of(const rocksdb::Status& s) {
  return s.IsCorruption() ? ErrorCode::kCorruption : ErrorCode::kIo;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool has_stream_prefix(const rocksdb::Slice& key, const std::string& prefix) {
  return key.size() == prefix.size() + 8 && key.starts_with(prefix);
}

// Appends the wire encoding of bytes field `field` holding a 32-byte digest.
void append_digest_field(std::string& out, int field, const std::string& digest) {
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
  std::vector<Envelope> events;        // normalized: store-assigned fields cleared
  std::vector<std::string> digests;    // SHA-256 of each event's caller content
  std::promise<Expected<AppendResult, Error>> done;
};

// Where a known event id lives (durable or staged in the current batch).
struct KnownId {
  uint64_t position = 0;
  std::string digest;
  bool pending = false;  // staged in the batch being written
};

class RocksEventStore final : public EventStore {
 public:
  RocksEventStore(std::string dir, StoreOptions options) : dir_(std::move(dir)), options_(options) {}
  ~RocksEventStore() override {
    close();
    if (!db_) return;
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
    db_.reset();
    if (!secondary_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(secondary_dir_, ec);
    }
  }

  Expected<void, Error> open_db();

  Expected<AppendResult, Error> append(const std::string& stream, ExpectedVersion expected,
                                       std::vector<Envelope> events) override;
  Expected<std::vector<Envelope>, Error> read_stream(const std::string& stream,
                                                     uint64_t from_version, size_t max_count,
                                                     Direction direction) const override;
  Expected<std::vector<Envelope>, Error> read_all(uint64_t from_position,
                                                  size_t max_count) const override;
  Expected<uint64_t, Error> scan(uint64_t from_position, uint64_t to_position,
                                 const std::function<bool(const Envelope&)>& visit) const override;
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

  void writer_loop();
  void commit_batch(std::vector<PendingAppend*>& batch);

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
  std::deque<PendingAppend*> queue_;
  std::atomic<bool> closed_{false};
  std::thread writer_;
  std::once_flag close_once_;

  // Writer-thread state.
  int64_t last_recorded_at_us_ = 0;
  std::string write_failure_;  // set after a failed write; the store then refuses appends
  std::unordered_map<std::string, uint64_t> version_cache_;  // stream -> durable version
};

// ---------------------------------------------------------------- open

Expected<void, Error> RocksEventStore::open_db() {
  std::error_code ec;
  bool exists = fs::exists(dir_, ec);
  if (exists && !fs::is_directory(dir_, ec)) {
    return fail(ErrorCode::kInvalidArgument, "not a wharf event store: " + dir_ + " is not a directory");
  }
  bool empty = !exists || fs::is_empty(dir_, ec);
  if (!exists) {
    if (!options_.create_if_missing || options_.read_only) {
      return fail(ErrorCode::kNotFound, "no event store at " + dir_);
    }
    fs::create_directories(dir_, ec);
    if (ec) return fail(ErrorCode::kIo, "cannot create " + dir_ + ": " + ec.message());
  }
  bool has_db = fs::exists(fs::path(dir_) / "CURRENT", ec);
  if (!empty && !has_db) {
    return fail(ErrorCode::kInvalidArgument,
                "not a wharf event store: " + dir_ +
                    " contains files but no RocksDB database (no CURRENT file); refusing to touch it");
  }
  if (empty && (!options_.create_if_missing || options_.read_only)) {
    return fail(ErrorCode::kNotFound, "no event store at " + dir_);
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = empty;
  db_options.create_missing_column_families = empty;
  db_options.paranoid_checks = true;
  // A record torn by a crash at the very end of the WAL was never acknowledged
  // (acknowledgement follows the sync); anything else corrupt fails the open.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.max_background_jobs = 2;
  db_options.allow_concurrent_memtable_write = false;  // one writer thread; needed by the hash memtable
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 3;
  if (options_.env != nullptr) db_options.env = options_.env;

  std::vector<std::string> families;
  if (has_db) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir_, &families);
    if (!s.ok()) {
      return fail(code_of(s), "cannot read the RocksDB manifest in " + dir_ + ": " + s.ToString());
    }
    for (const char* required : {keys::kLogFamily, keys::kStreamsFamily, keys::kEventIdsFamily,
                                 keys::kMetaFamily}) {
      if (std::find(families.begin(), families.end(), required) == families.end()) {
        return fail(ErrorCode::kInvalidArgument,
                    "not a wharf event store: " + dir_ +
                        " is a RocksDB database without the column family '" + required + "'");
      }
    }
  }

  rocksdb::ColumnFamilyOptions cf_options;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions ids_options;
  ids_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Event ids are random (UUIDs): a sorted skiplist memtable spends most of
  // the writer's time on cache misses. A hash memtable keyed by the whole id
  // makes the insert and the idempotency lookup O(1); nothing iterates this
  // family in order except verify_store, which opens it without these options.
  ids_options.prefix_extractor.reset(rocksdb::NewNoopTransform());
  ids_options.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(1 << 18));
  ids_options.memtable_prefix_bloom_size_ratio = 0.02;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {keys::kLogFamily, cf_options},
      {keys::kStreamsFamily, cf_options},
      {keys::kEventIdsFamily, ids_options},
      {keys::kMetaFamily, cf_options},
      {rocksdb::kDefaultColumnFamilyName, cf_options},
  };
  for (const auto& name : families) {
    bool known = false;
    for (const auto& d : descriptors) known = known || d.name == name;
    if (!known) descriptors.push_back({name, cf_options});
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options_.read_only) {
    db_options.max_open_files = -1;  // required by secondary instances
    std::string pattern = (fs::temp_directory_path() / "wharf-secondary-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return fail(ErrorCode::kIo, "cannot create a directory for a read-only view of " + dir_);
    }
    secondary_dir_ = pattern;
    s = rocksdb::DB::OpenAsSecondary(db_options, dir_, secondary_dir_, descriptors, &handles_, &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir_, descriptors, &handles_, &raw);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return fail(ErrorCode::kIo, "event store " + dir_ + " is in use by another process: " + s.ToString());
    }
    return fail(code_of(s), (s.IsCorruption() ? "event store " + dir_ + " is corrupt: "
                                              : "cannot open event store " + dir_ + ": ") +
                                s.ToString());
  }
  db_.reset(raw);

  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf(), rocksdb::Slice(keys::kFormatKey.data(), keys::kFormatKey.size()), &format);
  if (s.IsNotFound() && options_.read_only) {
    return fail(ErrorCode::kInvalidArgument, "not a wharf event store: " + dir_ + " has no format marker");
  } else if (s.IsNotFound()) {
    // A new store, or one whose creation stopped before the marker was
    // written (then the log is empty too). Anything else is foreign.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf()));
    it->SeekToFirst();
    if (it->Valid()) {
      return fail(ErrorCode::kInvalidArgument,
                  "not a wharf event store: " + dir_ + " has no format marker but a non-empty log");
    }
    store_id_ = new_uuid();
    rocksdb::WriteBatch batch;
    batch.Put(meta_cf(), rocksdb::Slice(keys::kFormatKey.data(), keys::kFormatKey.size()),
              rocksdb::Slice(keys::kFormatMarker.data(), keys::kFormatMarker.size()));
    batch.Put(meta_cf(), rocksdb::Slice(keys::kStoreIdKey.data(), keys::kStoreIdKey.size()), store_id_);
    rocksdb::WriteOptions w;
    w.sync = true;
    s = db_->Write(w, &batch);
    if (!s.ok()) return fail(code_of(s), "cannot initialize event store " + dir_ + ": " + s.ToString());
  } else if (!s.ok()) {
    return fail(code_of(s), "cannot read the format marker of " + dir_ + ": " + s.ToString());
  } else if (format != keys::kFormatMarker) {
    return fail(ErrorCode::kInvalidArgument, "not a wharf event store: " + dir_ + " has format '" +
                                                 format + "', expected '" +
                                                 std::string(keys::kFormatMarker) + "'");
  } else {
    s = db_->Get(rocksdb::ReadOptions(), meta_cf(),
                 rocksdb::Slice(keys::kStoreIdKey.data(), keys::kStoreIdKey.size()), &store_id_);
    if (!s.ok()) return fail(ErrorCode::kCorruption, "event store " + dir_ + " has no store_id: " + s.ToString());
  }

  if (auto loaded = load_head(); !loaded) return loaded;
  if (!options_.read_only) writer_ = std::thread([this] { writer_loop(); });
  return {};
}

// Finds the last stored event; checks it decodes and names its own position.
Expected<void, Error> RocksEventStore::load_head() {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_cf()));
  it->SeekToLast();
  if (!it->status().ok()) {
    return fail(code_of(it->status()), "cannot read the log of " + dir_ + ": " + it->status().ToString());
  }
  head_hash_ = zero_hash();
  if (!it->Valid()) return {};
  if (it->key().size() != 8) {
    return fail(ErrorCode::kCorruption, "event store " + dir_ + " is corrupt: log key of size " +
                                            std::to_string(it->key().size()));
  }
  uint64_t position = keys::read_be64(it->key().ToStringView());
  Envelope last;
  if (!last.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
      last.position() != position) {
    Error e;
    e.code = ErrorCode::kCorruption;
    e.position = position;
    e.message = "event store " + dir_ + " is corrupt: the last event (position " +
                std::to_string(position) + ") does not decode";
    return unexpected(std::move(e));
  }
  head_hash_ = last.hash().empty() ? zero_hash() : last.hash();
  last_recorded_at_us_ = last.recorded_at_us();
  head_position_.store(position, std::memory_order_release);
  return {};
}

void RocksEventStore::refresh() const {
  std::lock_guard refreshing(refresh_mu_);
  if (!db_->TryCatchUpWithPrimary().ok()) return;  // keep the old head; readers retry
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf()));
  it->SeekToLast();
  if (!it->Valid() || it->key().size() != 8) return;
  uint64_t position = keys::read_be64(it->key().ToStringView());
  if (position <= head_position()) return;
  Envelope last;
  if (!last.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) return;
  {
    std::lock_guard lock(head_mu_);
    head_hash_ = last.hash();
    head_position_.store(position, std::memory_order_release);
  }
  head_cv_.notify_all();
}

// ---------------------------------------------------------------- append

Expected<AppendResult, Error> RocksEventStore::append(const std::string& stream,
                                                      ExpectedVersion expected,
                                                      std::vector<Envelope> events) {
  if (closed_.load()) return fail(ErrorCode::kClosed, "event store is closed");
  if (options_.read_only) return fail(ErrorCode::kInvalidArgument, "event store " + dir_ + " is open read-only");
  if (stream.empty() || stream.find('\0') != std::string::npos || stream.size() > 1024) {
    return fail(ErrorCode::kInvalidArgument,
                "bad stream id '" + stream + "': must be 1-1024 bytes without NUL");
  }
  if (events.empty()) return fail(ErrorCode::kInvalidArgument, "append to " + stream + " without events");
  auto pending = std::make_unique<PendingAppend>();
  pending->stream = stream;
  pending->expected = expected;
  pending->digests.reserve(events.size());
  std::unordered_set<std::string_view> ids;
  for (auto& event : events) {
    if (event.event_id().empty()) {
      return fail(ErrorCode::kInvalidArgument, "an event appended to " + stream + " has no event_id");
    }
    std::string type = payload_type(event.payload());
    if (type.empty()) {
      return fail(ErrorCode::kInvalidArgument, "event " + event.event_id() + " has no payload");
    }
    if (!ids.insert(event.event_id()).second) {
      return fail(ErrorCode::kInvalidArgument,
                  "event id " + event.event_id() + " appears twice in one append to " + stream);
    }
    event.set_position(0);
    event.set_stream_version(0);
    event.set_recorded_at_us(0);
    event.clear_prev_hash();
    event.clear_hash();
    event.set_stream_id(stream);
    event.set_type(std::move(type));
    pending->digests.push_back(sha256(serialize_deterministic(event)));
  }
  pending->events = std::move(events);
  auto result = pending->done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (closed_.load()) return fail(ErrorCode::kClosed, "event store is closed");
    queue_.push_back(pending.get());
  }
  queue_cv_.notify_one();
  return result.get();
}

void RocksEventStore::writer_loop() {
  std::vector<PendingAppend*> batch;
  while (true) {
    batch.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return !queue_.empty() || closed_.load(); });
      if (closed_.load()) {
        for (auto* p : queue_) p->done.set_value(fail(ErrorCode::kClosed, "event store is closed"));
        queue_.clear();
        return;
      }
      size_t events = 0;
      while (!queue_.empty() &&
             (batch.empty() || events + queue_.front()->events.size() <= options_.max_batch_events)) {
        events += queue_.front()->events.size();
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    commit_batch(batch);
  }
}

uint64_t RocksEventStore::stored_stream_version(const std::string& stream) const {
  const std::string prefix = keys::stream_prefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf()));
  it->SeekForPrev(keys::stream_key(stream, UINT64_MAX));
  if (!it->Valid() || !has_stream_prefix(it->key(), prefix)) return 0;
  return keys::read_be64(it->key().ToStringView().substr(prefix.size()));
}

void RocksEventStore::commit_batch(std::vector<PendingAppend*>& batch) {
  struct Outcome {
    PendingAppend* append;
    std::optional<Expected<AppendResult, Error>> result;
    bool needs_write = false;  // acknowledged only if the batch write succeeds
  };
  std::vector<Outcome> outcomes;
  outcomes.reserve(batch.size());

  if (!write_failure_.empty()) {
    for (auto* p : batch) p->done.set_value(fail(ErrorCode::kIo, write_failure_));
    return;
  }

  const uint64_t first_position = head_position_.load(std::memory_order_relaxed) + 1;
  uint64_t next_position = first_position;
  std::string prev_hash = head_hash();
  int64_t recorded_at = std::max(now_us(), last_recorded_at_us_);
  std::unordered_map<std::string, uint64_t> staged_versions;  // stream -> version incl. batch
  std::unordered_map<std::string, KnownId> staged_ids;
  rocksdb::WriteBatch write;
  std::string stored;
  std::string id_lookup;

  auto current_version = [&](const std::string& stream) -> uint64_t {
    if (auto it = staged_versions.find(stream); it != staged_versions.end()) return it->second;
    if (auto it = version_cache_.find(stream); it != version_cache_.end()) return it->second;
    uint64_t v = stored_stream_version(stream);
    if (version_cache_.size() > 100000) version_cache_.clear();
    version_cache_.emplace(stream, v);
    return v;
  };

  for (auto* p : batch) {
    Outcome outcome{p, std::nullopt, false};
    // 1. Idempotency: which ids are known, with what content?
    size_t known = 0;
    bool depends_on_batch = false;
    uint64_t known_first = 0, known_last = 0;
    std::string first_known_id;
    for (size_t i = 0; i < p->events.size() && !outcome.result; ++i) {
      const std::string& id = p->events[i].event_id();
      KnownId found;
      bool is_known = false;
      if (auto it = staged_ids.find(id); it != staged_ids.end()) {
        found = it->second;
        is_known = true;
      } else {
        rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ids_cf(), id, &id_lookup);
        if (s.ok() && id_lookup.size() == 8 + keys::kDigestSize) {
          found.position = keys::read_be64(id_lookup);
          found.digest = id_lookup.substr(8);
          is_known = true;
        } else if (!s.ok() && !s.IsNotFound()) {
          outcome.result = fail(code_of(s), "cannot look up event id " + id + ": " + s.ToString());
        } else if (s.ok()) {
          outcome.result = fail(ErrorCode::kCorruption, "event id index entry for " + id + " is malformed");
        }
      }
      if (!is_known || outcome.result) continue;
      if (found.digest != p->digests[i]) {
        Error e;
        e.code = ErrorCode::kEventIdConflict;
        e.event_id = id;
        e.position = found.position;
        e.stream = p->stream;
        e.message = "event id " + id + " already exists at position " +
                    std::to_string(found.position) + " with different content";
        outcome.result = unexpected(std::move(e));
        continue;
      }
      if (known++ == 0) first_known_id = id;
      depends_on_batch = depends_on_batch || found.pending;
      if (i == 0) known_first = found.position;
      known_last = found.position;
    }
    if (!outcome.result && known > 0 && known < p->events.size()) {
      Error e;
      e.code = ErrorCode::kEventIdConflict;
      e.stream = p->stream;
      e.event_id = first_known_id;
      e.message = "append to " + p->stream + " mixes " + std::to_string(known) +
                  " existing event ids (e.g. " + first_known_id + ") with " +
                  std::to_string(p->events.size() - known) + " new ones";
      outcome.result = unexpected(std::move(e));
    }
    if (!outcome.result && known == p->events.size()) {
      AppendResult r;
      r.first_position = known_first;
      r.last_position = known_last;
      r.stream_version = current_version(p->stream);
      r.already_present = true;
      outcome.result = std::move(r);
      outcome.needs_write = depends_on_batch;
    }
    if (outcome.result) {
      outcomes.push_back(std::move(outcome));
      continue;
    }

    // 2. Optimistic concurrency.
    uint64_t version = current_version(p->stream);
    bool matches = p->expected.kind == ExpectedVersion::Kind::kAny ||
                   (p->expected.kind == ExpectedVersion::Kind::kNoStream && version == 0) ||
                   (p->expected.kind == ExpectedVersion::Kind::kExact && version == p->expected.version);
    if (!matches) {
      Error e;
      e.code = ErrorCode::kConflict;
      e.stream = p->stream;
      e.expected_version = p->expected.kind == ExpectedVersion::Kind::kExact ? p->expected.version : 0;
      e.actual_version = version;
      e.message = "conflict on stream " + p->stream + ": expected " +
                  (p->expected.kind == ExpectedVersion::Kind::kNoStream
                       ? std::string("no stream")
                       : "version " + std::to_string(p->expected.version)) +
                  ", actual version " + std::to_string(version);
      outcome.result = unexpected(std::move(e));
      outcomes.push_back(std::move(outcome));
      continue;
    }

    // 3. Stage: dense positions, versions, hash chain.
    AppendResult r;
    r.first_position = next_position;
    for (size_t i = 0; i < p->events.size(); ++i) {
      Envelope& ev = p->events[i];
      ev.set_position(next_position);
      ev.set_stream_version(++version);
      ev.set_recorded_at_us(recorded_at);
      stored = serialize_deterministic(ev);  // canonical bytes: hashes are still clear
      std::string hash;
      if (options_.compute_hash_chain) {
        hash = chain_hash(prev_hash, sha256(stored));
        append_digest_field(stored, kPrevHashField, prev_hash);
        append_digest_field(stored, kHashField, hash);
      } else {
        hash = zero_hash();
      }
      write.Put(log_cf(), keys::log_key(next_position), stored);
      write.Put(streams_cf(), keys::stream_key(p->stream, version), keys::be64(next_position));
      write.Put(ids_cf(), ev.event_id(), keys::event_id_value(next_position, p->digests[i]));
      staged_ids[ev.event_id()] = KnownId{next_position, p->digests[i], true};
      prev_hash = std::move(hash);
      ++next_position;
    }
    staged_versions[p->stream] = version;
    r.last_position = next_position - 1;
    r.stream_version = version;
    outcome.result = std::move(r);
    outcome.needs_write = true;
    outcomes.push_back(std::move(outcome));
  }

  bool written = true;
  std::string failure;
  if (write.Count() > 0) {
    rocksdb::WriteOptions w;
    w.sync = options_.sync;
    rocksdb::Status s = db_->Write(w, &write);
    if (!s.ok()) {
      written = false;
      failure = "write of positions " + std::to_string(first_position) + ".." +
                std::to_string(next_position - 1) + " failed: " + s.ToString() +
                "; nothing of it was acknowledged and the store refuses appends until reopened";
      write_failure_ = failure;
    }
  }
  if (written && next_position > first_position) {
    for (const auto& [stream, version] : staged_versions) version_cache_[stream] = version;
    last_recorded_at_us_ = recorded_at;
    {
      std::lock_guard lock(head_mu_);
      head_hash_ = prev_hash;
      head_position_.store(next_position - 1, std::memory_order_release);
    }
    head_cv_.notify_all();
  }
  for (auto& o : outcomes) {
    if (o.needs_write && !written) {
      Error e;
      e.code = ErrorCode::kIo;
      e.stream = o.append->stream;
      e.message = failure;
      o.append->done.set_value(unexpected(std::move(e)));
    } else {
      o.append->done.set_value(std::move(*o.result));
    }
  }
}

// ---------------------------------------------------------------- reads

Expected<Envelope, Error> RocksEventStore::read_position(uint64_t position) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), log_cf(), keys::log_key(position), &value);
  Envelope e;
  if (s.IsNotFound()) {
    Error err;
    err.code = ErrorCode::kCorruption;
    err.position = position;
    err.message = "position " + std::to_string(position) + " is indexed but missing from the log";
    return unexpected(std::move(err));
  }
  if (!s.ok()) return fail(code_of(s), "cannot read position " + std::to_string(position) + ": " + s.ToString());
  if (!e.ParseFromString(value)) {
    Error err;
    err.code = ErrorCode::kCorruption;
    err.position = position;
    err.message = "event at position " + std::to_string(position) + " does not decode";
    return unexpected(std::move(err));
  }
  return e;
}

Expected<std::vector<Envelope>, Error> RocksEventStore::read_stream(const std::string& stream,
                                                                    uint64_t from_version,
                                                                    size_t max_count,
                                                                    Direction direction) const {
  if (options_.read_only) refresh();
  const uint64_t head = head_position();
  const std::string prefix = keys::stream_prefix(stream);
  std::vector<uint64_t> positions;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf()));
  if (direction == Direction::kForward) {
    for (it->Seek(keys::stream_key(stream, std::max<uint64_t>(from_version, 1)));
         it->Valid() && has_stream_prefix(it->key(), prefix) && positions.size() < max_count;
         it->Next()) {
      uint64_t position = keys::read_be64(it->value().ToStringView());
      if (position > head) break;
      positions.push_back(position);
    }
  } else {
    it->SeekForPrev(keys::stream_key(stream, from_version == 0 ? UINT64_MAX : from_version));
    for (; it->Valid() && has_stream_prefix(it->key(), prefix) && positions.size() < max_count;
         it->Prev()) {
      uint64_t position = keys::read_be64(it->value().ToStringView());
      if (position <= head) positions.push_back(position);
    }
  }
  if (!it->status().ok()) {
    return fail(code_of(it->status()), "cannot read stream " + stream + ": " + it->status().ToString());
  }
  std::vector<Envelope> out;
  out.reserve(positions.size());
  for (uint64_t position : positions) {
    auto e = read_position(position);
    if (!e) return unexpected(e.error());
    out.push_back(std::move(*e));
  }
  return out;
}

Expected<uint64_t, Error> RocksEventStore::scan(
    uint64_t from_position, uint64_t to_position,
    const std::function<bool(const Envelope&)>& visit) const {
  if (options_.read_only && (to_position == 0 || to_position > head_position())) refresh();
  const uint64_t head = head_position();
  const uint64_t last = to_position == 0 ? head : std::min(to_position, head);
  from_position = std::max<uint64_t>(from_position, 1);
  if (from_position > last) return uint64_t{0};
  const std::string upper = keys::log_key(last + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_cf()));
  Envelope event;
  uint64_t visited = 0;
  for (it->Seek(keys::log_key(from_position)); it->Valid(); it->Next()) {
    uint64_t position = keys::read_be64(it->key().ToStringView());
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      Error err;
      err.code = ErrorCode::kCorruption;
      err.position = position;
      err.message = "event at position " + std::to_string(position) + " does not decode";
      return unexpected(std::move(err));
    }
    visited = position;
    if (!visit(event)) break;
  }
  if (!it->status().ok()) {
    return fail(code_of(it->status()), "cannot read the log: " + it->status().ToString());
  }
  return visited;
}

Expected<std::vector<Envelope>, Error> RocksEventStore::read_all(uint64_t from_position,
                                                                 size_t max_count) const {
  std::vector<Envelope> out;
  if (max_count == 0) return out;
  auto r = scan(from_position, 0, [&](const Envelope& e) {
    out.push_back(e);
    return out.size() < max_count;
  });
  if (!r) return unexpected(r.error());
  return out;
}

Expected<Envelope, Error> RocksEventStore::read_event(const std::string& event_id) const {
  if (options_.read_only) refresh();
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ids_cf(), event_id, &value);
  if (s.IsNotFound()) return fail(ErrorCode::kNotFound, "no event with id " + event_id);
  if (!s.ok()) return fail(code_of(s), "cannot look up event id " + event_id + ": " + s.ToString());
  if (value.size() != 8 + keys::kDigestSize) {
    return fail(ErrorCode::kCorruption, "event id index entry for " + event_id + " is malformed");
  }
  uint64_t position = keys::read_be64(value);
  if (position > head_position()) return fail(ErrorCode::kNotFound, "no event with id " + event_id);
  return read_position(position);
}

uint64_t RocksEventStore::stream_version(const std::string& stream) const {
  if (options_.read_only) refresh();
  const uint64_t head = head_position();
  const std::string prefix = keys::stream_prefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf()));
  for (it->SeekForPrev(keys::stream_key(stream, UINT64_MAX));
       it->Valid() && has_stream_prefix(it->key(), prefix); it->Prev()) {
    if (keys::read_be64(it->value().ToStringView()) <= head) {
      return keys::read_be64(it->key().ToStringView().substr(prefix.size()));
    }
  }
  return 0;
}

uint64_t RocksEventStore::wait_for_head_beyond(uint64_t position,
                                               std::chrono::steady_clock::time_point deadline) const {
  if (options_.read_only) {  // nobody notifies a secondary: poll the primary
    while (true) {
      refresh();
      auto now = std::chrono::steady_clock::now();
      if (head_position() > position || closed_.load() || now >= deadline) return head_position();
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          deadline - now, std::chrono::milliseconds(50)));
    }
  }
  std::unique_lock lock(head_mu_);
  head_cv_.wait_until(lock, deadline,
                      [&] { return head_position() > position || closed_.load(); });
  return head_position();
}

Expected<void, Error> RocksEventStore::put_meta(const std::string& key, const std::string& value) {
  if (closed_.load()) return fail(ErrorCode::kClosed, "event store is closed");
  if (options_.read_only) return fail(ErrorCode::kInvalidArgument, "event store " + dir_ + " is open read-only");
  rocksdb::WriteOptions w;
  w.sync = options_.sync;
  rocksdb::Status s = db_->Put(w, meta_cf(), keys::user_meta_key(key), value);
  if (!s.ok()) return fail(code_of(s), "cannot write meta key " + key + ": " + s.ToString());
  return {};
}

Expected<std::string, Error> RocksEventStore::get_meta(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf(), keys::user_meta_key(key), &value);
  if (s.IsNotFound()) return fail(ErrorCode::kNotFound, "no meta key " + key);
  if (!s.ok()) return fail(code_of(s), "cannot read meta key " + key + ": " + s.ToString());
  return value;
}

void RocksEventStore::close() {
  std::call_once(close_once_, [this] {
    {
      std::lock_guard lock(queue_mu_);
      closed_.store(true);
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
      std::lock_guard lock(head_mu_);
    }
    head_cv_.notify_all();
  });
}

}  // namespace

Expected<uint64_t, Error> EventStore::scan(uint64_t from_position, uint64_t to_position,
                                           const std::function<bool(const Envelope&)>& visit) const {
  uint64_t last = 0;
  uint64_t next = std::max<uint64_t>(from_position, 1);
  while (true) {
    auto chunk = read_all(next, 1024);
    if (!chunk) return unexpected(chunk.error());
    if (chunk->empty()) return last;
    for (const auto& e : *chunk) {
      if (to_position != 0 && e.position() > to_position) return last;
      last = e.position();
      if (!visit(e)) return last;
    }
    next = last + 1;
  }
}

Expected<std::unique_ptr<EventStore>, Error> EventStore::open(const std::string& dir,
                                                              StoreOptions options) {
  auto store = std::make_unique<RocksEventStore>(dir, options);
  if (auto opened = store->open_db(); !opened) return unexpected(opened.error());
  return std::unique_ptr<EventStore>(std::move(store));
}

}  // namespace wharf::events
