#pragma once
// Write side of one projection's column family during one WriteBatch (or,
// for a rebuild from position 0, one BulkSink segment). Reads see the
// batch's own pending writes first (an overlay), then the DB, so several
// events folded into one batch build on each other.
#include <google/protobuf/message.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "events/hash_chain.h"

namespace wharf::projections {

// Deterministic map order: equal states give equal bytes, so digests of two
// rebuilds are comparable. The one serializer is the event log's.
inline std::string serialize(const google::protobuf::Message& message) {
  return events::serialize_deterministic(message);
}

// Every write of one projection during a bulk segment (ProjectionRunner's
// rebuild from position 0), in order, in one arena: sorted once at the end
// and written as SST files (ProjectionDb::ingest) instead of going through
// the memtable.
class BulkSink {
 public:
  void put(std::string_view key, std::string_view value);
  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }
  // Sorts by key (of equal keys the last write wins), calls emit(key, value)
  // in ascending key order until it returns false, then empties the sink.
  template <typename Emit>
  bool drain_sorted(Emit emit) {
    sort();
    bool ok = true;
    for (size_t i = 0; i < entries_.size() && ok; ++i) {
      if (i + 1 < entries_.size() && key(entries_[i]) == key(entries_[i + 1])) continue;
      ok = emit(key(entries_[i]), value(entries_[i]));
    }
    clear();
    return ok;
  }
  void clear();

 private:
  struct Entry {
    uint64_t head;     // first 8 key bytes, big-endian: most comparisons end here
    const char* data;  // key then value, inside one of blocks_
    uint32_t key_size;
    uint32_t value_size;
    uint64_t seq;
  };
  std::string_view key(const Entry& e) const { return {e.data, e.key_size}; }
  std::string_view value(const Entry& e) const { return {e.data + e.key_size, e.value_size}; }
  void sort();
  char* reserve(size_t size);

  // Fixed blocks instead of one growing string: a segment is up to a GiB, and
  // regrowing one buffer copied it again and again (and faulted in its pages twice).
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = 0;
  size_t block_size_ = 0;
  size_t bytes_ = 0;
  std::vector<Entry> entries_;
};

class StateBatch {
 public:
  StateBatch(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, rocksdb::WriteBatch* batch)
      : db_(db), cf_(cf), batch_(batch) {}
  // Bulk mode: writes go to `sink`; reads see every write since construction
  // (kept for the whole segment), then the DB (earlier segments).
  StateBatch(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, BulkSink* sink)
      : db_(db), cf_(cf), batch_(nullptr), sink_(sink) {}

  // Newest version of a versioned entity (key without position), if any.
  std::optional<std::string> latest(const std::string& entity);
  // Writes `entity`+BE(position) -> value: the entity's state as of position.
  void put_version(const std::string& entity, uint64_t position, std::string value);

  // Plain keys (indexes, lookup tables).
  std::optional<std::string> get(const std::string& key);
  void put(const std::string& key, std::string value);
  // Write-only: for keys this batch never reads back (indexes, audit lines).
  void append(const std::string& key, const std::string& value) { write(key, value); }

  template <typename M>
  bool latest_message(const std::string& entity, M* out) {
    auto bytes = latest(entity);
    return bytes && out->ParseFromString(*bytes);
  }
  void put_version_message(const std::string& entity, uint64_t position,
                           const google::protobuf::Message& m) {
    put_version(entity, position, serialize(m));
  }

 private:
  void write(const std::string& key, const std::string& value) {
    if (sink_ != nullptr) {
      sink_->put(key, value);
    } else {
      batch_->Put(cf_, key, value);
    }
  }

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::WriteBatch* batch_;
  BulkSink* sink_ = nullptr;
  std::unique_ptr<rocksdb::Iterator> iterator_;  // the DB as of batch start
  std::unordered_map<std::string, std::string> latest_;
  std::unordered_map<std::string, std::string> plain_;
};

}  // namespace wharf::projections
