// RocksDB implementation of EventStore: open, reads, meta. The group-commit
// writer is in group_commit.cc. Layout: events/keys.h, docs/storage.md.
#include <fcntl.h>
#include <google/protobuf/arena.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "events/hash_chain.h"
#include "events/ids.h"
#include "events/keys.h"
#include "events/rocks_event_store.h"

namespace wharf::events {
namespace internal {

namespace fs = std::filesystem;

RocksEventStore::~RocksEventStore() {
  close();
  if (!db_) return;
  if (writer_started_ && !failed_.load()) {
    // Flush so the next open need not replay the whole WAL into memtables
    // (seconds for a large log). Durability does not depend on it.
    rocksdb::FlushOptions flush;
    flush.wait = true;
    db_->Flush(flush, {log_cf(), streams_cf(), ids_cf(), meta_cf()}).PermitUncheckedError();
  }
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
  db_.reset();
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
  }
}

// ---------------------------------------------------------------- open

namespace {

rocksdb::DBOptions make_db_options(const StoreOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.paranoid_checks = true;
  // A record torn by a crash at the very end of the WAL was never acknowledged
  // (acknowledgement follows the sync); anything else corrupt fails the open.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.max_background_jobs = 2;
  db_options.allow_concurrent_memtable_write =
      false;  // one writer thread; needed by the hash memtable
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 3;
  if (options.env != nullptr) db_options.env = options.env;
  return db_options;
}

// The four wharf families (plus default and any `others` found on disk).
std::vector<rocksdb::ColumnFamilyDescriptor> make_descriptors(
    const std::vector<std::string>& others) {
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
  for (const auto& name : others) {
    bool known = false;
    for (const auto& d : descriptors) known = known || d.name == name;
    if (!known) descriptors.push_back({name, cf_options});
  }
  return descriptors;
}

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Creates a complete store (families, format marker, store id) beside `dir`
// and renames it into place, so a crash during creation never leaves a
// half-created store under `dir` (rename replaces an empty directory).
Expected<void, Error> create_store(const std::string& dir, const StoreOptions& options) {
  std::string target = dir;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  const fs::path parent = fs::path(target).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot create " + parent.string() + ": " + ec.message());
  const std::string staging = target + ".creating-" + new_uuid().substr(0, 8);

  rocksdb::DBOptions db_options = make_db_options(options);
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, staging, make_descriptors({}), &handles, &raw);
  if (!s.ok())
    return fail(ErrorCode::kIo, "cannot create event store in " + staging + ": " + s.ToString());
  rocksdb::WriteBatch batch;
  batch.Put(handles[3], rocksdb::Slice(keys::kFormatKey.data(), keys::kFormatKey.size()),
            rocksdb::Slice(keys::kFormatMarker.data(), keys::kFormatMarker.size()));
  batch.Put(handles[3], rocksdb::Slice(keys::kStoreIdKey.data(), keys::kStoreIdKey.size()),
            new_uuid());
  rocksdb::WriteOptions w;
  w.sync = true;
  s = raw->Write(w, &batch);
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  rocksdb::Status closed = raw->Close();
  delete raw;
  if (!s.ok() || !closed.ok()) {
    fs::remove_all(staging, ec);
    return fail(ErrorCode::kIo,
                "cannot initialize event store: " + (s.ok() ? closed : s).ToString());
  }
  fsync_directory(staging);
  if (std::rename(staging.c_str(), target.c_str()) != 0) {
    int err = errno;
    fs::remove_all(staging, ec);
    return fail(ErrorCode::kIo,
                "cannot move the new event store into " + target + ": " + std::strerror(err));
  }
  fsync_directory(parent);
  return {};
}

}  // namespace

Expected<void, Error> RocksEventStore::open_db() {
  std::error_code ec;
  bool exists = fs::exists(dir_, ec);
  if (exists && !fs::is_directory(dir_, ec)) {
    return fail(ErrorCode::kInvalidArgument,
                "not a wharf event store: " + dir_ + " is not a directory");
  }
  bool empty = !exists || fs::is_empty(dir_, ec);
  bool has_db = exists && fs::exists(fs::path(dir_) / "CURRENT", ec);
  if (!empty && !has_db) {
    return fail(
        ErrorCode::kInvalidArgument,
        "not a wharf event store: " + dir_ +
            " contains files but no RocksDB database (no CURRENT file); refusing to touch it");
  }
  if (empty) {
    if (!options_.create_if_missing || options_.read_only) {
      return fail(ErrorCode::kNotFound, "no event store at " + dir_);
    }
    if (auto created = create_store(dir_, options_); !created) return created;
  }

  rocksdb::DBOptions db_options = make_db_options(options_);
  std::vector<std::string> families;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, dir_, &families);
  if (!listed.ok()) {
    return fail(code_of(listed),
                "cannot read the RocksDB manifest in " + dir_ + ": " + listed.ToString());
  }
  for (const char* required :
       {keys::kLogFamily, keys::kStreamsFamily, keys::kEventIdsFamily, keys::kMetaFamily}) {
    if (std::find(families.begin(), families.end(), required) == families.end()) {
      return fail(ErrorCode::kInvalidArgument,
                  "not a wharf event store: " + dir_ +
                      " is a RocksDB database without the column family '" + required + "'");
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = make_descriptors(families);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options_.read_only) {
    db_options.max_open_files = -1;  // required by secondary instances
    std::string pattern = (fs::temp_directory_path() / "wharf-secondary-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return fail(ErrorCode::kIo, "cannot create a directory for a read-only view of " + dir_);
    }
    secondary_dir_ = pattern;
    s = rocksdb::DB::OpenAsSecondary(db_options, dir_, secondary_dir_, descriptors, &handles_,
                                     &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir_, descriptors, &handles_, &raw);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return fail(ErrorCode::kIo,
                  "event store " + dir_ + " is in use by another process: " + s.ToString());
    }
    return fail(code_of(s), (s.IsCorruption() ? "event store " + dir_ + " is corrupt: "
                                              : "cannot open event store " + dir_ + ": ") +
                                s.ToString());
  }
  db_.reset(raw);

  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf(),
               rocksdb::Slice(keys::kFormatKey.data(), keys::kFormatKey.size()), &format);
  if (s.IsNotFound() && options_.read_only) {
    return fail(ErrorCode::kInvalidArgument,
                "not a wharf event store: " + dir_ + " has no format marker");
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
    batch.Put(meta_cf(), rocksdb::Slice(keys::kStoreIdKey.data(), keys::kStoreIdKey.size()),
              store_id_);
    rocksdb::WriteOptions w;
    w.sync = true;
    s = db_->Write(w, &batch);
    if (!s.ok())
      return fail(code_of(s), "cannot initialize event store " + dir_ + ": " + s.ToString());
  } else if (!s.ok()) {
    return fail(code_of(s), "cannot read the format marker of " + dir_ + ": " + s.ToString());
  } else if (format != keys::kFormatMarker) {
    return fail(ErrorCode::kInvalidArgument, "not a wharf event store: " + dir_ + " has format '" +
                                                 format + "', expected '" +
                                                 std::string(keys::kFormatMarker) + "'");
  } else {
    s = db_->Get(rocksdb::ReadOptions(), meta_cf(),
                 rocksdb::Slice(keys::kStoreIdKey.data(), keys::kStoreIdKey.size()), &store_id_);
    if (!s.ok())
      return fail(ErrorCode::kCorruption,
                  "event store " + dir_ + " has no store_id: " + s.ToString());
  }

  if (auto loaded = load_head(); !loaded) return loaded;
  if (!options_.read_only) start_writer();
  return {};
}

// Finds the last stored event; checks it decodes and names its own position.
Expected<void, Error> RocksEventStore::load_head() {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_cf()));
  it->SeekToLast();
  if (!it->status().ok()) {
    return fail(code_of(it->status()),
                "cannot read the log of " + dir_ + ": " + it->status().ToString());
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
  if (!s.ok())
    return fail(code_of(s),
                "cannot read position " + std::to_string(position) + ": " + s.ToString());
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
    return fail(code_of(it->status()),
                "cannot read stream " + stream + ": " + it->status().ToString());
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

Expected<uint64_t, Error> RocksEventStore::scan_records(
    uint64_t from_position, uint64_t to_position,
    const std::function<bool(uint64_t, std::string_view)>& visit) const {
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
  uint64_t visited = 0;
  for (it->Seek(keys::log_key(from_position)); it->Valid(); it->Next()) {
    const uint64_t position = keys::read_be64(it->key().ToStringView());
    visited = position;
    if (!visit(position, it->value().ToStringView())) break;
  }
  if (!it->status().ok()) {
    return fail(code_of(it->status()), "cannot read the log: " + it->status().ToString());
  }
  return visited;
}

namespace {

Error undecodable(uint64_t position) {
  Error err;
  err.code = ErrorCode::kCorruption;
  err.position = position;
  err.message = "event at position " + std::to_string(position) + " does not decode";
  return err;
}

bool decode(std::string_view bytes, Envelope* event) {
  return event->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

Expected<uint64_t, Error> RocksEventStore::scan(
    uint64_t from_position, uint64_t to_position,
    const std::function<bool(const Envelope&)>& visit) const {
  // Decoding into an arena turns the per-event mallocs and frees of strings
  // and sub-messages into bump allocations; the arena is recycled every
  // kArenaEvents events.
  constexpr uint64_t kArenaEvents = 512;
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 256 << 10;
  google::protobuf::Arena arena(arena_options);
  Envelope* event = nullptr;
  uint64_t decoded = 0;
  uint64_t visited = 0;
  std::optional<Error> broken;
  auto r = scan_records(from_position, to_position, [&](uint64_t position, std::string_view bytes) {
    if (decoded++ % kArenaEvents == 0) {
      arena.Reset();
      event = google::protobuf::Arena::CreateMessage<Envelope>(&arena);
    }
    if (!decode(bytes, event)) {
      broken = undecodable(position);
      return false;
    }
    visited = position;
    return visit(*event);
  });
  if (broken) return unexpected(std::move(*broken));
  if (!r) return unexpected(r.error());
  return visited;
}

Expected<EventBatch, Error> RocksEventStore::read_batch(uint64_t from_position,
                                                        size_t max_count) const {
  EventBatch batch;
  if (max_count == 0) return batch;
  std::optional<Error> broken;
  auto r = scan_records(from_position, 0, [&](uint64_t position, std::string_view bytes) {
    if (!decode(bytes, batch.add())) {
      broken = undecodable(position);
      return false;
    }
    return batch.size() < max_count;
  });
  if (broken) return unexpected(std::move(*broken));
  if (!r) return unexpected(r.error());
  return batch;
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

uint64_t RocksEventStore::wait_for_head_beyond(
    uint64_t position, std::chrono::steady_clock::time_point deadline) const {
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
  head_cv_.wait_until(lock, deadline, [&] { return head_position() > position || closed_.load(); });
  return head_position();
}

Expected<void, Error> RocksEventStore::put_meta(const std::string& key, const std::string& value) {
  if (closed_.load()) return fail(ErrorCode::kClosed, "event store is closed");
  if (options_.read_only)
    return fail(ErrorCode::kInvalidArgument, "event store " + dir_ + " is open read-only");
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
    { std::lock_guard lock(head_mu_); }
    head_cv_.notify_all();
  });
}

}  // namespace internal

void EventStore::append_async(const std::string& stream, ExpectedVersion expected,
                              std::vector<Envelope> events, AppendDone done) {
  done(append(stream, expected, std::move(events)));
}

Expected<AppendResult, Error> EventStore::apply_replicated(std::vector<std::string>,
                                                           ReplicationGate::Meta) {
  return internal::fail(ErrorCode::kInvalidArgument, "this store cannot apply replicated events");
}

EventBatch::EventBatch() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 256 << 10;
  options.max_block_size = 4 << 20;
  arena_ = std::make_unique<google::protobuf::Arena>(options);
}
EventBatch::EventBatch(EventBatch&&) noexcept = default;
EventBatch& EventBatch::operator=(EventBatch&&) noexcept = default;
EventBatch::~EventBatch() = default;

Envelope* EventBatch::add() {
  Envelope* event = google::protobuf::Arena::CreateMessage<Envelope>(arena_.get());
  events_.push_back(event);
  return event;
}

Expected<EventBatch, Error> EventStore::read_batch(uint64_t from_position, size_t max_count) const {
  EventBatch batch;
  if (max_count == 0) return batch;
  auto r = scan(from_position, 0, [&](const Envelope& e) {
    batch.add()->CopyFrom(e);
    return batch.size() < max_count;
  });
  if (!r) return unexpected(r.error());
  return batch;
}

Expected<uint64_t, Error> EventStore::scan(
    uint64_t from_position, uint64_t to_position,
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
  auto store = std::make_unique<internal::RocksEventStore>(dir, options);
  if (auto opened = store->open_db(); !opened) return unexpected(opened.error());
  return std::unique_ptr<EventStore>(std::move(store));
}

}  // namespace wharf::events
