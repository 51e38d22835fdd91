#pragma once
// Write side of one projection's column family during one WriteBatch. Reads
// see the batch's own pending writes first (an overlay), then the DB, so
// several events folded into one batch build on each other.
#include <google/protobuf/message.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace wharf::projections {

// Serializes with deterministic map order: equal states give equal bytes, so
// digests of two rebuilds are comparable.
std::string serialize(const google::protobuf::Message& message);

class StateBatch {
 public:
  StateBatch(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, rocksdb::WriteBatch* batch)
      : db_(db), cf_(cf), batch_(batch) {}

  // Newest version of a versioned entity (key without position), if any.
  std::optional<std::string> latest(const std::string& entity);
  // Writes `entity`+BE(position) -> value: the entity's state as of position.
  void put_version(const std::string& entity, uint64_t position, std::string value);

  // Plain keys (indexes, lookup tables).
  std::optional<std::string> get(const std::string& key);
  void put(const std::string& key, std::string value);
  // Write-only: for keys this batch never reads back (indexes, audit lines).
  void append(const std::string& key, const std::string& value) { batch_->Put(cf_, key, value); }

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
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::WriteBatch* batch_;
  std::unique_ptr<rocksdb::Iterator> iterator_;  // the DB as of batch start
  std::unordered_map<std::string, std::string> latest_;
  std::unordered_map<std::string, std::string> plain_;
};

}  // namespace wharf::projections
