#pragma once
// Read side of one projection's column family, as of a log position: every
// answer is an index seek over versioned keys, never a replay.
#include <google/protobuf/message.h>
#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace wharf::projections {

class StateReader {
 public:
  // `snapshot` (optional): read as of it. Readers over one snapshot see the
  // same state even while the projection writes (several iterators at once).
  StateReader(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
              const rocksdb::Snapshot* snapshot = nullptr);

  // Value of versioned `entity` as of `position`: the newest version whose
  // position is <= position. One SeekForPrev.
  std::optional<std::string> get_at(const std::string& entity, uint64_t position);
  template <typename M>
  bool get_at(const std::string& entity, uint64_t position, M* out) {
    auto bytes = get_at(entity, position);
    return bytes && out->ParseFromString(*bytes);
  }

  std::optional<std::string> get(const std::string& key);

  // Visits keys `prefix`+BE(pos)+... with pos in [min, max], newest first
  // (backward) or oldest first (forward). `visit(pos, value)` returns false
  // to stop.
  using Visit = std::function<bool(uint64_t position, const rocksdb::Slice& value)>;
  void scan_backward(const std::string& prefix, uint64_t min_position, uint64_t max_position,
                     const Visit& visit);
  void scan_forward(const std::string& prefix, uint64_t min_position, uint64_t max_position,
                    const Visit& visit);
  // Visits keys under `prefix` from `start` (>= prefix) in key order;
  // `visit(key, value)` returns false to stop.
  using VisitKey = std::function<bool(const rocksdb::Slice& key, const rocksdb::Slice& value)>;
  void each(const std::string& prefix, const std::string& start, const VisitKey& visit);

 private:
  rocksdb::ReadOptions read_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace wharf::projections
